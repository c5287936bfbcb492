/** Text from the tools the delivery scripts run (terraform, cdktf, helm). */

/** Removes ANSI colour and cursor sequences. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007|\r/g, "");
}

/**
 * Reading what terraform and cdktf print: their error blocks (so a failed step shows terraform's own
 * message), the state-lock error, and the progress noise of cdktf's terminal UI.
 */

import { stripAnsi } from "../delivery/text";

export { stripAnsi } from "../delivery/text";
export { parseLockError, type LockError } from "../delivery/state-lock";

/** cdktf's progress lines (spinner frames, stack counters), which carry no information. */
function isProgress(line: string): boolean {
  return (
    /^\s*\d+ Stacks? (deploying|destroying|waiting|done)/.test(line) ||
    /^\s*[⠁-⣿]\s+\w+/.test(line) ||
    /Stacks? (deploying|destroying)\s+\d+ Stacks? done/.test(line)
  );
}

/**
 * Plain lines of a cdktf or terraform run: no colours, no progress frames, and without the stack
 * column cdktf puts before each line (`shared  Error: ...` becomes `Error: ...`).
 */
export function plainLines(output: string, stacks: readonly string[] = []): string[] {
  const prefix = stacks.length > 0 ? new RegExp(`^(?:${stacks.join("|")})\\s{2,}`) : undefined;
  const lines: string[] = [];
  for (const raw of stripAnsi(output).split("\n")) {
    if (isProgress(raw)) continue;
    let line = raw.replace(/^\[[0-9T:.-]+\] \[[A-Z]+\] default - /, "");
    if (prefix) line = line.replace(prefix, "");
    lines.push(line.replace(/\s+$/, ""));
  }
  return lines;
}

/**
 * Terraform's error blocks: each `Error:` line with the lines that follow it up to the next blank
 * line or the next block, de-indented and de-duplicated (cdktf prints some of them twice).
 */
export function errorBlocks(output: string, stacks: readonly string[] = []): string[] {
  const lines = plainLines(output, stacks);
  const blocks: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const start = lines[i].match(/^(\s*)(?:│\s*)?Error: /);
    if (!start) continue;
    const block = [lines[i].trim().replace(/^│\s*/, "")];
    for (let j = i + 1; j < lines.length; j++) {
      const next = lines[j].replace(/^\s*│\s?/, "").trim();
      if (next === "" && block.length > 1 && lines[j + 1]?.trim() === "") break;
      if (/^(?:│\s*)?(Error|Warning): /.test(lines[j].trim()) || /^╵/.test(lines[j].trim())) break;
      if (/^Error: (non-zero exit code|terraform \w+ failed)/.test(next)) break;
      block.push(next);
      i = j;
    }
    while (block.length > 1 && block[block.length - 1] === "") block.pop();
    const text = block.join("\n").replace(/\n{3,}/g, "\n\n");
    if (!blocks.includes(text)) blocks.push(text);
  }
  return blocks;
}

/** What a failed command said, for the rehearsal's failure report: error blocks, else the tail. */
export function failureMessage(output: string, stacks: readonly string[] = [], tail = 25): string {
  const blocks = errorBlocks(output, stacks);
  if (blocks.length > 0) return blocks.join("\n\n");
  const lines = plainLines(output, stacks).filter((l) => l.trim() !== "");
  return lines.slice(-tail).join("\n");
}

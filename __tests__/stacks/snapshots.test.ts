/**
 * One snapshot per stack, as a tripwire for unintended changes; behaviour is asserted in the other
 * stack tests. The chart asset's content hash and the API's version are replaced by placeholders,
 * because they change with the chart and the service, not with the infrastructure.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../config";
import { STACK_NAMES } from "../../stacks/app";
import { synthesized, type StackJson } from "../helpers/synth";

const appVersion = loadConfig({}).appVersion;

function normalized(json: StackJson): unknown {
  const text = JSON.stringify(json)
    .replace(/assets\/Chart\/[0-9A-F]{32}/g, "assets/Chart/<content-hash>")
    .split(`\\"version\\":\\"${appVersion}\\"`)
    .join(`\\"version\\":\\"<app-version>\\"`);
  return JSON.parse(text);
}

describe("stack snapshots", () => {
  it.each(STACK_NAMES)("%s", (stack) => {
    expect(normalized(synthesized(stack))).toMatchSnapshot();
  });

  it("normalizes the chart hash and the app version in the releases", () => {
    const text = JSON.stringify(normalized(synthesized("dev")));
    expect(text).toContain("assets/Chart/<content-hash>");
    expect(text).toContain('\\"version\\":\\"<app-version>\\"');
  });
});

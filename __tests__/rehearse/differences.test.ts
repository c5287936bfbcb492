/**
 * The rehearsal's differences from a real deploy live in one file, and the code can rely on none
 * that the file does not list and explain.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Differences, EXCEPTIONS_FILE, parseDifferences } from "../../scripts/rehearse/exceptions";

const entry = (id: string) => `  - id: ${id}\n    what: something differs\n    reason: because\n`;

describe("the differences list", () => {
  it("parses the committed file, each entry with what differs and why", () => {
    const list = parseDifferences(readFileSync(EXCEPTIONS_FILE, "utf8"));
    expect(list.map((d) => d.id)).toEqual(
      expect.arrayContaining(["emulator-target", "local-cluster-target", "kwok-nodes"]),
    );
    for (const d of list) {
      expect(d.what.length).toBeGreaterThan(20);
      expect(d.reason.length).toBeGreaterThan(20);
    }
  });

  it("reports every problem at once: missing fields, unknown keys, bad and repeated ids", () => {
    const text = [
      "differences:",
      "  - id: Bad_Id",
      "    what: x",
      "    reason: y",
      "    because: z",
      "  - id: twice",
      "    what: x",
      "  - id: twice",
      "    what: x",
      "    reason: y",
    ].join("\n");
    expect(() => parseDifferences(text, "f.yaml")).toThrow(
      /f\.yaml: differences\[0\]\.because: unknown key[\s\S]*differences\[0\]\.id: kebab-case, got Bad_Id[\s\S]*differences\[1\]\.reason: required[\s\S]*differences\[2\]\.id: twice is listed twice/,
    );
    expect(() => parseDifferences("exceptions: []\n")).toThrow(/top-level "differences" list/);
  });

  it("refuses a difference the file does not list, and finds listed ones no code uses", () => {
    const differences = new Differences(
      parseDifferences(`differences:\n${entry("a")}${entry("b")}`),
    );
    expect(differences.use("a").reason).toBe("because");
    expect(() => differences.use("c")).toThrow(/difference "c" that .* does not list/);
    expect(differences.unused().map((d) => d.id)).toEqual(["b"]);
  });
});

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** Longest acceptance allowed, in days from today. */
const MAX_DAYS = 90;

/**
 * Checks a `.trivyignore`: every entry is `<ID> exp:<YYYY-MM-DD>`, directly under a comment with
 * its reason, and expires within {@link MAX_DAYS} days of `today` (already expired entries are
 * reported too: Trivy no longer ignores them).
 */
export function checkTrivyIgnore(text: string, today: Date): string[] {
  const problems: string[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `line ${index + 1}`;
    const match =
      /^((?:CVE|GHSA|AVD|DS|KSV|AWS)-[\w-]+|[A-Z]+-\d+)\s+exp:(\d{4}-\d{2}-\d{2})$/.exec(line);
    if (!match) {
      problems.push(`${where}: expected "<ID> exp:YYYY-MM-DD", got ${JSON.stringify(line)}`);
      return;
    }
    const expiry = new Date(`${match[2]}T00:00:00Z`);
    if (Number.isNaN(expiry.getTime()) || expiry.toISOString().slice(0, 10) !== match[2]) {
      problems.push(`${where}: ${match[2]} is not a date`);
      return;
    }
    const days = (expiry.getTime() - today.getTime()) / 86_400_000;
    if (days < 0) problems.push(`${where}: ${match[1]} expired on ${match[2]}`);
    if (days > MAX_DAYS)
      problems.push(`${where}: ${match[1]} expires more than ${MAX_DAYS} days ahead`);
    const previous = (lines[index - 1] ?? "").trim();
    if (!previous.startsWith("#") || previous.replace(/^#\s*/, "").length < 20) {
      problems.push(`${where}: ${match[1]} needs its reason in a comment on the line above`);
    }
  });
  return problems;
}

const today = new Date("2026-11-25T00:00:00Z");

describe(".trivyignore", () => {
  it("every accepted finding has a reason and an expiry", () => {
    const text = readFileSync(join(__dirname, "..", "..", ".trivyignore"), "utf8");
    expect(checkTrivyIgnore(text, new Date())).toEqual([]);
  });
  it("accepts a well-formed entry", () => {
    const text =
      "# Not reachable from the API; no fixed package yet. Accepted, see #12.\nCVE-2026-12345 exp:2027-01-31\n";
    expect(checkTrivyIgnore(text, today)).toEqual([]);
  });
  it.each([
    [
      "no expiry",
      "# Not reachable from the API; no fix yet, see #12.\nCVE-2026-12345\n",
      /expected "<ID> exp:YYYY-MM-DD"/,
    ],
    ["no reason", "\nCVE-2026-12345 exp:2027-01-31\n", /needs its reason/],
    ["a reason too short", "# ok\nCVE-2026-12345 exp:2027-01-31\n", /needs its reason/],
    [
      "an impossible date",
      "# Not reachable from the API; no fix yet, see #12.\nCVE-2026-12345 exp:2027-02-30\n",
      /is not a date/,
    ],
    [
      "an expiry too far ahead",
      "# Not reachable from the API; no fix yet, see #12.\nCVE-2026-12345 exp:2028-01-01\n",
      /more than 90 days/,
    ],
    [
      "an expired entry",
      "# Not reachable from the API; no fix yet, see #12.\nCVE-2026-12345 exp:2026-01-01\n",
      /expired on 2026-01-01/,
    ],
  ])("refuses %s", (_name, text, message) => {
    expect(checkTrivyIgnore(text, today).join("\n")).toMatch(message);
  });
});

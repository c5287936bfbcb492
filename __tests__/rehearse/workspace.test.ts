/** The rehearsal's checkout: a copy of the repository's files whose edits are reversible. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAssignments } from "../../scripts/rehearse/delivery";
import { Workspace } from "../../scripts/rehearse/workspace";

const root = mkdtempSync(join(tmpdir(), "workspace-src-"));
const target = mkdtempSync(join(tmpdir(), "workspace-copy-"));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(target, { recursive: true, force: true });
});

describe("Workspace", () => {
  execFileSync("git", ["init", "-q"], { cwd: root });
  writeFileSync(join(root, ".gitignore"), "ignored.txt\n");
  writeFileSync(join(root, "tracked.ts"), "export const settings = { a: 1 };\n");
  writeFileSync(join(root, "ignored.txt"), "no\n");
  execFileSync("git", ["add", "."], { cwd: root });
  writeFileSync(join(root, "new.ts"), "untracked but not ignored\n");
  const ws = Workspace.create(root, target);

  it("copies tracked and new files, not ignored ones", () => {
    expect(readFileSync(ws.path("tracked.ts"), "utf8")).toContain("a: 1");
    expect(existsSync(ws.path("new.ts"))).toBe(true);
    expect(existsSync(ws.path("ignored.txt"))).toBe(false);
  });

  it("edits the copy only, and restores it", () => {
    ws.edit("tracked.ts", (t) => t.replace("a: 1", "a: 2"));
    expect(readFileSync(ws.path("tracked.ts"), "utf8")).toContain("a: 2");
    expect(readFileSync(join(root, "tracked.ts"), "utf8")).toContain("a: 1");
    ws.restore("tracked.ts");
    expect(readFileSync(ws.path("tracked.ts"), "utf8")).toContain("a: 1");
  });

  it("refuses an edit that changes nothing, so an edit cannot silently stop applying", () => {
    expect(() => ws.edit("tracked.ts", (t) => t.replace("zzz", "y"))).toThrow(/changed nothing/);
  });
});

describe("parseAssignments", () => {
  it("reads the delivery CLI's KEY=value lines and nothing else", () => {
    expect(
      parseAssignments(
        "ACTIVE_COLOUR_PROD=green\nnoise line\nIMAGE_TAG_PROD_GREEN=release-1.2.3\n",
      ),
    ).toEqual({ ACTIVE_COLOUR_PROD: "green", IMAGE_TAG_PROD_GREEN: "release-1.2.3" });
  });
});

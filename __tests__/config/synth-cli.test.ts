/**
 * `npm run synth` (scripts/synth.ts) with a bad image tag and a broken settings file: exit 1, every
 * problem named on stderr, nothing written to the output folder.
 */
import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "synth-cli-"));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npx tsx scripts/synth.ts <outdir>` in `cwd` with only the given config variables set. */
function synth(cwd: string, outdir: string, env: Record<string, string>): Promise<Run> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith("IMAGE_TAG_") && !["GIT_SHA", "DEPLOY_TARGET"].includes(k),
    ),
  );
  return new Promise((done) => {
    execFile(
      "npx",
      ["--no-install", "tsx", "scripts/synth.ts", outdir],
      { cwd, env: { ...base, ...env }, timeout: 120_000 },
      (error, stdout, stderr) =>
        done({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

/** A copy of the code synth runs, with the committed settings file broken in three places. */
function brokenCheckout(): string {
  const dir = join(work, "checkout");
  for (const path of ["config", "constructs", "stacks", "scripts/synth.ts", "api/package.json"]) {
    cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  const file = join(dir, "config", "settings.ts");
  const text = readFileSync(file, "utf8");
  const broken = text
    .replace('vpcCidr: "10.40.0.0/16"', 'vpcCidr: "10.40.0.0/33"')
    .replace("azCount: 3,", "azCount: 1,")
    .replace('kubernetesVersion: "1.36"', 'kubernetesVersion: "1.20"');
  expect(broken.match(/10\.40\.0\.0\/33|azCount: 1,|"1\.20"/g)).toHaveLength(3);
  writeFileSync(file, broken);
  return dir;
}

let tagOnly: Run;
let brokenSettings: Run;
const freshOut = join(work, "out-fresh");
const existingOut = join(work, "out-existing");

beforeAll(async () => {
  const checkout = brokenCheckout();
  mkdirSync(existingOut);
  writeFileSync(join(existingOut, "previous-synth.txt"), "kept");
  [tagOnly, brokenSettings] = await Promise.all([
    synth(ROOT, freshOut, { IMAGE_TAG_PROD: "latest" }),
    synth(checkout, existingOut, {
      IMAGE_TAG_PROD: "latest",
      IMAGE_TAG_DEV: "not a tag",
      GIT_SHA: "HEAD",
    }),
  ]);
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("npm run synth with a bad configuration", () => {
  it("IMAGE_TAG_PROD=latest: exits 1, names the variable, creates no output folder", () => {
    expect(tagOnly.code, tagOnly.stderr).toBe(1);
    expect(tagOnly.stderr).toContain("invalid configuration (1 problem)");
    expect(tagOnly.stderr).toMatch(/- IMAGE_TAG_PROD: got "latest"; a mutable tag/);
    expect(tagOnly.stdout).not.toMatch(/resources/);
    expect(existsSync(freshOut)).toBe(false);
  });

  it("a broken settings file and bad variables: every problem named, the old output untouched", () => {
    expect(brokenSettings.code, brokenSettings.stderr).toBe(1);
    expect(brokenSettings.stderr).toContain("invalid configuration (6 problems)");
    for (const line of [
      /- shared\.vpcCidr: got "10\.40\.0\.0\/33"; allowed: an IPv4 network/,
      /- shared\.azCount: got 1; allowed: a whole number from 2 to 6/,
      /- shared\.kubernetesVersion: got "1\.20"; allowed: one of/,
      /- IMAGE_TAG_DEV: got "not a tag"; allowed: an OCI tag/,
      /- IMAGE_TAG_PROD: got "latest"; a mutable tag/,
      /- GIT_SHA: got "HEAD"; allowed: a commit id/,
    ]) {
      expect(brokenSettings.stderr).toMatch(line);
    }
    // No stack trace: the message is the whole output.
    expect(brokenSettings.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(existingOut)).toEqual(["previous-synth.txt"]);
  });
});

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { main } from "../../scripts/delivery/cli";

const repoRoot = join(__dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "delivery-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a command in-process and captures what it printed. */
async function run(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const COMMIT = "3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";
const pkg = (version: string) => {
  const file = join(work, `package-${version}.json`);
  writeFileSync(file, JSON.stringify({ name: "api", version }));
  return file;
};

describe("delivery command line", () => {
  it("release-check prints the outputs for a matching tag", async () => {
    const result = await run(
      "release-check",
      "--tag",
      "release-1.4.0",
      "--package",
      pkg("1.4.0"),
      "--commit",
      COMMIT,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `version=1.4.0\nimage_tag=release-1.4.0\nsource_tag=sha-${COMMIT}\ncommit=${COMMIT}\n`,
    );
  });
  it.each([
    [
      ["release-check", "--tag", "release-1.4.1", "--package", "PKG", "--commit", COMMIT],
      1,
      /api\/package.json is at 1.4.0/,
    ],
    [
      ["release-check", "--tag", "release-v1.4.0", "--package", "PKG", "--commit", COMMIT],
      1,
      /drop the "v"/,
    ],
    [
      ["release-check", "--tag", "release-1.4.0", "--package", "/nonexistent.json"],
      1,
      /cannot read the API's version/,
    ],
    [
      ["release-check", "--tag", "release-1.4.0", "--package", "PKG", "--commit", "abc"],
      1,
      /40 lower-case hex/,
    ],
    [["release-check"], 2, /--tag is required/],
    [["image-tags", "--head", "HEAD"], 1, /not a full commit id/],
    [["nope"], 2, /unknown command "nope"/],
    [[], 2, /unknown command ""/],
    [
      ["plan-report", "--plans", "/nonexistent", "--comment", "c", "--summary", "s"],
      1,
      /does not exist: run npm run plan:stacks/,
    ],
    [["smoke", "--url", "http://h", "--deadline-seconds", "soon"], 2, /positive whole number/],
    [["smoke", "--url", "h.example.com", "--deadline-seconds", "1"], 1, /is not a URL/],
    [
      ["promote", "--repository-url", "api", "--source-tag", "a", "--target-tag", "b"],
      1,
      /not an ECR repository URL/,
    ],
    [["release-check", "--tag", "release-1.4.0", "--bogus", "x"], 2, /Unknown option '--bogus'/],
  ])("%j exits %i with a clear message", async (argv, code, message) => {
    const args = (argv as string[]).map((a) => (a === "PKG" ? pkg("1.4.0") : a));
    const result = await run(...args);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe("");
  });
  it("stack-output reads a cdktf outputs file and refuses a missing output", async () => {
    const file = join(work, "outputs.json");
    writeFileSync(
      file,
      JSON.stringify({ dev: { service_url: "k8s-dev.elb.amazonaws.com", namespace: "api-dev" } }),
    );
    expect(
      (await run("stack-output", "--file", file, "--stack", "dev", "--name", "service_url")).stdout,
    ).toBe("service_url=k8s-dev.elb.amazonaws.com\n");
    const missing = await run(
      "stack-output",
      "--file",
      file,
      "--stack",
      "prod",
      "--name",
      "service_url",
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("has no string output prod.service_url");
  });
  it("plan-report writes the comment and the summary and reports the state", async () => {
    const comment = join(work, "comment.md");
    const summary = join(work, "summary.md");
    const plans = join(__dirname, "fixtures", "plan-dirs", "one-failed");
    const result = await run(
      "plan-report",
      "--plans",
      plans,
      "--comment",
      comment,
      "--summary",
      summary,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("changed=false\nfailed=true\ntruncated=false\n");
    expect(readFileSync(comment, "utf8")).toContain(":x: plan failed");
    expect(readFileSync(summary, "utf8")).toContain("No valid credential sources found");
  });
  it("the entry point sets the process exit code", () => {
    const result = spawnSync(
      process.execPath,
      ["--import", "tsx", "scripts/delivery/cli.ts", "release-check", "--tag", "1.0.0"],
      {
        cwd: repoRoot,
        encoding: "utf8",
      },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('error: tag "1.0.0" must have the form release-<semver>');
  });
});

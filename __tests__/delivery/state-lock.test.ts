/** A state lock that a killed deploy left is released before the next deploy of the workspace. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { releaseStaleLock, type Terraform } from "../../scripts/delivery/state-lock";

const lockError = readFileSync(
  join(__dirname, "..", "rehearse", "fixtures", "terraform-lock-error.txt"),
  "utf8",
);

function fake(planOutput: string, unlockCode = 0) {
  const calls: string[][] = [];
  const terraform: Terraform = async (args) => {
    calls.push([...args]);
    if (args[0] === "plan") return { code: planOutput ? 1 : 0, output: planOutput };
    if (args[0] === "force-unlock") return { code: unlockCode, output: "unlock failed: 403" };
    return { code: 0, output: "" };
  };
  return { calls, terraform };
}

describe("releaseStaleLock", () => {
  it("leaves a free workspace alone, probing with a plan that takes the lock and does nothing", async () => {
    const { calls, terraform } = fake("");
    const lines: string[] = [];
    expect(await releaseStaleLock(terraform, (l) => lines.push(l))).toEqual({ released: false });
    expect(calls.map((c) => c[0])).toEqual(["init", "plan"]);
    expect(calls[1]).toEqual(
      expect.arrayContaining([
        "-lock-timeout=0s",
        "-refresh=false",
        "-target=terraform_data.lock_probe",
      ]),
    );
    expect(lines).toEqual(["state lock: free"]);
  });

  it("force-unlocks the lock terraform reports, by its ID", async () => {
    const { calls, terraform } = fake(lockError);
    const lines: string[] = [];
    const result = await releaseStaleLock(terraform, (l) => lines.push(l));
    expect(result.released).toBe(true);
    const id = result.lock?.id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls.at(-1)).toEqual(["force-unlock", "-force", id]);
    expect(lines[0]).toMatch(/held by .* \(OperationTypeApply, created .*\).*stale: releasing it/);
  });

  it("fails with terraform's message when the unlock fails", async () => {
    const { terraform } = fake(lockError, 1);
    await expect(releaseStaleLock(terraform, () => undefined)).rejects.toThrow(
      /force-unlock .* failed:\nunlock failed: 403/,
    );
  });
});

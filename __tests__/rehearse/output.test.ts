import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  errorBlocks,
  failureMessage,
  parseLockError,
  plainLines,
  stripAnsi,
} from "../../scripts/rehearse/output";

const fixture = (name: string) => readFileSync(join(__dirname, "fixtures", name), "utf8");

describe("cdktf output", () => {
  const deploy = fixture("cdktf-deploy-errors.txt");

  it("loses colours, cursor movement and progress frames", () => {
    const lines = plainLines(deploy, ["shared"]);
    expect(lines.join("\n")).not.toContain("\u001b");
    expect(lines.join("\n")).not.toMatch(/Stacks? deploying/);
    expect(lines).toContain(
      "aws_launch_template.ProdNodes_LaunchTemplate_9F1B1450 (ProdNodes/LaunchTemplate): Creation complete after 6s [id=lt-15714989970ef971c]",
    );
  });

  it("yields terraform's error blocks with the resource each one is about", () => {
    const blocks = errorBlocks(deploy, ["shared"]);
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    expect(blocks[0]).toMatch(
      /^Error: creating EKS Access Entry \(api-platform:arn:aws:iam::123456789012:role\/api-platform-deploy-dev\): operation error EKS: CreateAccessEntry, https response error StatusCode: 404/,
    );
    expect(blocks[0]).toContain(
      "with aws_eks_access_entry.Ci_DeployDevAccess_8853D56C (Ci/DeployDevAccess),",
    );
    expect(blocks[0]).not.toContain(
      "Error: creating EKS Access Entry (api-platform:arn:aws:iam::123456789012:role/api-platform-deploy-prod)",
    );
    expect(new Set(blocks).size).toBe(blocks.length);
  });

  it("falls back to the output's last lines when there is no error block", () => {
    const text = "one\n\u001b[32mtwo\u001b[0m\nthree\n";
    expect(failureMessage(text, [], 2)).toBe("two\nthree");
    expect(stripAnsi("\u001b[1m\u001b[31mError:\u001b[0m x\r")).toBe("Error: x");
  });

  it("reads terraform's boxed diagnostics", () => {
    const boxed = [
      "╷",
      '│ Error: Error refreshing state: Unable to access object "shared/terraform.tfstate" in S3 bucket "missing": operation error S3: HeadObject, https response error StatusCode: 404',
      "│ ",
      "╵",
      "",
    ].join("\n");
    expect(errorBlocks(boxed)).toEqual([
      'Error: Error refreshing state: Unable to access object "shared/terraform.tfstate" in S3 bucket "missing": operation error S3: HeadObject, https response error StatusCode: 404',
    ]);
  });
});

describe("parseLockError", () => {
  it("reads the lock holder from terraform's lock error", () => {
    const lock = parseLockError(fixture("terraform-lock-error.txt"));
    expect(lock).toBeDefined();
    expect(lock?.operation).toBe("OperationTypeApply");
    expect(lock?.path).toBe("example-org-api-platform-tfstate/shared/terraform.tfstate");
    expect(lock?.id).toBe("8aa38fb5-5168-b208-88dd-ed2d9e738d62");
    expect(errorBlocks(fixture("terraform-lock-error.txt"))[0]).toMatch(
      /^Error: Error acquiring the state lock\n\nError message: operation error S3: PutObject[\s\S]*PreconditionFailed/,
    );
  });

  it("returns undefined for any other failure", () => {
    expect(parseLockError("Error: Error refreshing state: 403 Forbidden")).toBeUndefined();
  });
});

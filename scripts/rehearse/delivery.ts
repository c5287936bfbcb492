/**
 * The commands the workflows run, run the same way in the rehearsal's checkout: `npx cdktf deploy
 * <stack>` with the workflows' flags ({@link DEPLOY_FLAGS}) after `npm run synth`, `npx cdktf output`,
 * `npm run delivery -- ...` and `npm run plan:stacks`. Nothing here knows what a stack contains; a
 * re-plan after every apply proves that the deployed state is what the code says.
 */
import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { failureMessage, plainLines } from "./output";
import { plannedChanges } from "./exceptions";
import type { Children, RunResult } from "./processes";
import type { Workspace } from "./workspace";

/**
 * The flags of the workflows' `cdktf deploy <env>` (deploy-dev, release, rollback), which deploy
 * what their recover step synthesized with the same environment.
 */
export const DEPLOY_FLAGS = [
  "--auto-approve",
  "--ignore-missing-stack-dependencies",
  "--skip-synth",
] as const;

/** Variables a workflow step sets (`IMAGE_TAG_DEV`, `ACTIVE_COLOUR_PROD`, ...). */
export type Vars = Readonly<Record<string, string>>;

/** A cdktf deploy that exited, with what the user sees in the job log. */
export interface DeployResult {
  readonly ok: boolean;
  readonly exitCode: number | null;
  /** The output without colours or progress frames. */
  readonly log: string;
  /** terraform's summary line (`Apply complete! Resources: ...`), when the apply finished. */
  readonly summary?: string;
  /** The stack's outputs after the deploy (`--outputs-file`), when it succeeded. */
  readonly outputs?: Record<string, unknown>;
}

/** Runs the workflows' commands in a {@link Workspace}. */
export class DeliveryCommands {
  private runs = 0;

  constructor(
    private readonly children: Children,
    private readonly ws: Workspace,
    private readonly baseEnv: NodeJS.ProcessEnv,
    private readonly stacks: readonly string[],
    /** Added to every cdktf command (the rehearsal's listed differences). */
    private readonly cdktfArgs: readonly string[],
    private readonly stream?: (chunk: string) => void,
  ) {}

  /** `npx cdktf <args>` as the workflows run it, with the rehearsal's additions. */
  cdktf(args: readonly string[], vars: Vars = {}): Promise<RunResult> {
    return this.run("npx", ["cdktf", ...args, ...this.cdktfArgs], vars);
  }

  /** The synthesized folder of a stack in the checkout. */
  stackDir(stack: string): string {
    return this.ws.path(join("cdktf.out", "stacks", stack));
  }

  env(vars: Vars = {}): NodeJS.ProcessEnv {
    return { ...this.baseEnv, ...vars };
  }

  /** Runs a command in the checkout. */
  run(command: string, args: readonly string[], vars: Vars = {}): Promise<RunResult> {
    return this.children.run(command, args, {
      cwd: this.ws.dir,
      env: this.env(vars),
      onOutput: this.stream,
    });
  }

  /** Runs a command that must succeed; the error quotes the tool. */
  async must(command: string, args: readonly string[], vars: Vars = {}): Promise<RunResult> {
    const result = await this.run(command, args, vars);
    if (result.code !== 0) {
      throw new Error(
        `\`${[command, ...args].join(" ")}\` exited with ${result.code ?? result.signal}:\n${failureMessage(result.output, this.stacks)}`,
      );
    }
    return result;
  }

  /** `npm run --silent delivery -- <args>`, its `key=value` lines as a record. */
  async delivery(args: readonly string[], vars: Vars = {}): Promise<Record<string, string>> {
    const result = await this.must("npm", ["run", "--silent", "delivery", "--", ...args], vars);
    return parseAssignments(result.stdout);
  }

  /** The workflows' deploy command. */
  deploy(stack: string, vars: Vars = {}): Promise<DeployResult> {
    return this.startDeploy(stack, vars).result;
  }

  /** Starts the workflows' deploy command; `child` is its process group's leader. */
  startDeploy(
    stack: string,
    vars: Vars = {},
  ): { child: ChildProcess; result: Promise<DeployResult> } {
    const outputsFile = join(this.ws.dir, `outputs-${stack}-${++this.runs}.json`);
    const { child, result } = this.children.start(
      "npx",
      ["cdktf", "deploy", stack, ...DEPLOY_FLAGS, "--outputs-file", outputsFile, ...this.cdktfArgs],
      { cwd: this.ws.dir, env: this.env(vars), onOutput: this.stream },
    );
    return {
      child,
      result: result.then((r) => deployResult(r, stack, this.stacks, outputsFile)),
    };
  }

  /** `npx cdktf output <stack> --outputs-file <file>`: the outputs in state, as the workflows read them. */
  async outputsFile(stack: string, vars: Vars = {}): Promise<string> {
    const file = join(this.ws.dir, `current-${stack}-${++this.runs}.json`);
    await this.must(
      "npx",
      ["cdktf", "output", stack, "--outputs-file", file, ...this.cdktfArgs],
      vars,
    );
    return file;
  }

  /**
   * `terraform plan -detailed-exitcode` of the synthesized stack as it was last deployed: exit 0
   * (no changes) or the changes it found.
   */
  async replan(stack: string): Promise<string[]> {
    const dir = this.stackDir(stack);
    const planFile = join(dir, "rehearse-replan.tfplan");
    const plan = await this.children.run(
      "terraform",
      [
        "plan",
        "-input=false",
        "-no-color",
        "-detailed-exitcode",
        "-lock=false",
        `-out=${planFile}`,
      ],
      { cwd: dir, env: this.env(), onOutput: this.stream },
    );
    if (plan.code === 0) return [];
    if (plan.code !== 2) throw new Error(`terraform plan failed:\n${failureMessage(plan.output)}`);
    const shown = await this.children.run("terraform", ["show", "-json", planFile], {
      cwd: dir,
      env: this.env(),
    });
    return plannedChanges(shown.stdout).map((c) => `${c.actions.join("/")} ${c.address}`);
  }
}

/** `KEY=value` lines (the delivery CLI's stdout) as a record. */
export function parseAssignments(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) out[match[1]!] = match[2]!;
  }
  return out;
}

function deployResult(
  result: RunResult,
  stack: string,
  stacks: readonly string[],
  outputsFile: string,
): DeployResult {
  const lines = plainLines(result.output, [...stacks]);
  const summary = lines.map((l) => l.trim()).find((l) => /^Apply complete!/.test(l));
  let outputs: Record<string, unknown> | undefined;
  if (result.code === 0) {
    try {
      const all = JSON.parse(readFileSync(outputsFile, "utf8")) as Record<
        string,
        Record<string, unknown>
      >;
      outputs = all[stack];
    } catch {
      outputs = undefined;
    }
  }
  return {
    ok: result.code === 0,
    exitCode: result.code,
    log: lines.join("\n"),
    summary,
    outputs,
  };
}

/** Writes a record as an outputs file in cdktf's shape (`{ <stack>: { <name>: value } }`). */
export function writeOutputsFile(file: string, stack: string, outputs: Record<string, unknown>) {
  writeFileSync(file, JSON.stringify({ [stack]: outputs }, null, 2));
}

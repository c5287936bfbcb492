/**
 * The rehearsal: the whole platform deployed with the project's own commands, in the order the
 * workflows run them, against local stand-ins. `bootstrap` and `shared` go to moto's server mode
 * through `cdktf deploy` (S3 state versioned, encrypted with the bootstrap key, locked while an
 * apply runs); a local control plane gets kwok nodes from shared's node groups; `dev` and `prod` go
 * through `cdktf deploy` with the real helm and kubernetes providers (platform.ts); then everything
 * is destroyed in reverse order and the emulator and the cluster are asked that nothing is left.
 * Works in a copy of the repository in a temporary folder: the user's tree is never touched.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stateKey as sharedStateKey } from "../../config/names";
import { REPO_ROOT, TOOLS, TOOLS_DIR, terraformEnv, tool } from "../toolchain";
import { rehearsalBinaries, startLocalCluster } from "./cluster/start";
import { DeliveryCommands } from "./delivery";
import { startEmulator, motoReady, type Emulator } from "./emulator";
import { Differences, listBlocks, loadExceptions, plannedChanges, pruneStack } from "./exceptions";
import { failureMessage, parseLockError, plainLines } from "./output";
import { Children, CleanupStack, freePort, stopGroup, type RunResult } from "./processes";
import { rehearsePlatform, type PlatformContext } from "./platform";
import { Steps } from "./steps";
import { emulatorProcessEnv, localClusterVars, resolveEmulatorConfig } from "./target";
import { Workspace } from "./workspace";

/** Options of one rehearsal run. */
export interface RehearsalOptions {
  /** Stream every tool's output. */
  readonly verbose: boolean;
  /** Keep the working folder (synthesized stacks, plans, logs) for inspection. */
  readonly keep: boolean;
  /** The exceptions file. */
  readonly exceptionsFile?: string;
  /** Applied to the synthesized `shared` stack before deploying it (to break it on purpose). */
  readonly breakShared?: (config: Record<string, unknown>) => void;
  readonly print?: (line: string) => void;
  /**
   * What runs once dev and prod can be deployed (the delivery flows by default). Another body
   * (the deploy benchmark) skips the state checks and the unused-differences check.
   */
  readonly platform?: (ctx: PlatformContext) => Promise<void>;
}

const CDKTF = join(REPO_ROOT, "node_modules", ".bin", "cdktf");
/** The environments, deployed after shared and destroyed before it. */
const ENVIRONMENT_STACKS = ["dev", "prod"] as const;
const PYTHON = join(TOOLS.motoServer, "..", "python");
const AWS_HELPER = join(__dirname, "aws.py");
const STACKS = ["bootstrap", "shared"] as const;

type Inventory = Record<string, string[]>;

/** Resources in `after` that were not in `baseline`, per kind. */
export function leftovers(baseline: Inventory, after: Inventory): Record<string, string[]> {
  const left: Record<string, string[]> = {};
  for (const [kind, ids] of Object.entries(after)) {
    const before = new Set(baseline[kind] ?? []);
    const extra = ids.filter((id) => !before.has(id));
    if (extra.length > 0) left[kind] = extra;
  }
  return left;
}

/** The resource blocks of a plan's text that change something, without the unchanged noise. */
export function planDetail(planText: string, maxLines = 80): string {
  const lines = planText.split("\n").filter((l) => !/^\s+# \(\d+ unchanged/.test(l));
  const start = lines.findIndex((l) => /^\s+# \S+ (will be|must be)/.test(l));
  const body = start >= 0 ? lines.slice(start) : lines;
  return body.length > maxLines
    ? [...body.slice(0, maxLines), `  ... (${body.length - maxLines} more lines in the plan)`].join(
        "\n",
      )
    : body.join("\n");
}

/** Runs the rehearsal; resolves on success, rejects with a {@link StepFailure}. */
export async function rehearse(
  options: RehearsalOptions,
  cleanup: CleanupStack,
  children: Children,
  steps: Steps = new Steps(options.print),
): Promise<Steps> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const workdir = mkdtempSync(join(tmpdir(), "rehearse-"));
  if (options.keep) print(`working folder (kept): ${workdir}`);
  else cleanup.add(`folder ${workdir}`, () => rmSync(workdir, { recursive: true, force: true }));
  const outdir = join(workdir, "aws.out");
  const exceptions = loadExceptions(options.exceptionsFile);
  const differences = Differences.load(options.exceptionsFile);
  const stream = options.verbose ? (chunk: string) => process.stdout.write(chunk) : undefined;

  await steps.run(
    "tools (npm run tools -- --rehearsal)",
    async () => {
      rehearsalBinaries();
      return "etcd, kwok, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, helm in .tools/";
    },
    (s) => s,
  );
  const ws = await steps.run(
    "checkout (a copy of the repository's files)",
    async () => {
      const dir = join(workdir, "checkout");
      mkdirSync(dir, { recursive: true });
      differences.use("workspace-copy");
      return Workspace.create(REPO_ROOT, dir);
    },
    (w) => w.dir,
  );

  const emulator: Emulator = await steps.run(
    "start the emulator",
    () =>
      startEmulator(
        { command: tool("motoServer"), tmpRoot: workdir },
        {
          spawn: (command, args, spawnOptions) => children.spawn(command, args, spawnOptions),
          ready: motoReady,
          freePort,
        },
      ).then((e) => {
        cleanup.add("emulator", () => e.stop());
        return e;
      }),
    (e) => `moto_server on ${e.endpointUrl} (pid ${e.pid})`,
  );

  differences.use("emulator-target");
  const config = resolveEmulatorConfig(process.env, emulator.endpointUrl);
  const { region, stateBucket } = config.shared;
  const env = emulatorProcessEnv(terraformEnv(), emulator.endpointUrl);
  const tfEnv = (extra: Record<string, string> = {}) => ({ ...env, ...extra });

  const aws = async <T>(...args: string[]): Promise<T> => {
    const result = await children.run(
      PYTHON,
      [AWS_HELPER, "--endpoint", emulator.endpointUrl, "--region", region, ...args],
      { env: { ...process.env, AWS_EC2_METADATA_DISABLED: "true" } },
    );
    if (result.code !== 0) throw new Error(`aws.py ${args[0]} failed:\n${result.output.trim()}`);
    return JSON.parse(result.stdout) as T;
  };

  /** Runs a tool; a non-zero exit fails the step with the tool's own error message. */
  const mustRun = async (
    command: string,
    args: string[],
    cwd: string,
    extraEnv: Record<string, string> = {},
  ): Promise<RunResult> => {
    const result = await children.run(command, args, {
      cwd,
      env: tfEnv(extraEnv),
      onOutput: stream,
    });
    if (result.code !== 0) {
      throw new Error(
        `\`${[command.split("/").pop(), ...args].join(" ")}\` exited with ${result.code ?? result.signal}:\n${failureMessage(result.output, [...STACKS, "dev", "prod"])}`,
      );
    }
    return result;
  };
  const cdktf = (args: string[]) =>
    mustRun(CDKTF, [...args, "--output", outdir, "--no-color"], ws.dir);
  const stackDir = (stack: string) => join(outdir, "stacks", stack);
  const readStack = (stack: string) =>
    JSON.parse(readFileSync(join(stackDir(stack), "cdk.tf.json"), "utf8")) as Record<
      string,
      unknown
    >;

  const ignoredCount: Record<string, number> = {};
  const baseline = await steps.run(
    "inventory before",
    () => aws<Inventory>("inventory"),
    (inv) => `${Object.values(inv).flat().length} resources the emulator starts with`,
  );

  await steps.run(
    "synthesize (cdktf synth, emulator target)",
    async () => {
      await cdktf(["synth"]);
      const notes: string[] = [];
      for (const stack of STACKS) {
        const pruned = pruneStack(stack, readStack(stack), exceptions);
        if (pruned.unmatched.length > 0) {
          throw new Error(
            `the exceptions file lists resources ${stack} no longer has:\n${pruned.unmatched.map((u) => `  ${u.type} ${u.path}`).join("\n")}`,
          );
        }
        if (stack === "shared") options.breakShared?.(pruned.config);
        writeFileSync(join(stackDir(stack), "cdk.tf.json"), JSON.stringify(pruned.config, null, 2));
        const byReason = new Map<string, string[]>();
        const note = (reason: string, line: string) =>
          byReason.set(reason, [...(byReason.get(reason) ?? []), line]);
        for (const ex of pruned.excluded) {
          note(
            ex.reason.startsWith("reads ") ? "reads an excluded resource" : ex.reason,
            `not applied: ${ex.address}${ex.reason.startsWith("reads ") ? ` (${ex.reason})` : ""}`,
          );
        }
        for (const edge of pruned.droppedDependsOn) {
          note("ordering edge to an excluded resource, dropped", edge);
        }
        for (const ig of pruned.ignored) {
          note(ig.reason, `re-planned without ${ig.attributes.join(", ")}: ${ig.address}`);
        }
        for (const out of pruned.removedOutputs)
          note("reads an excluded resource", `output ${out} left out`);
        for (const [reason, lines] of byReason) {
          print(`  ${stack}: ${reason}`);
          for (const line of lines) print(`      ${line}`);
        }
        ignoredCount[stack] = pruned.ignored.length;
        notes.push(`${stack}: ${pruned.excluded.length} excluded`);
      }
      return notes.join(", ");
    },
    (note) => note,
  );

  const deploy = (stack: string) =>
    steps.run(
      `deploy ${stack} (cdktf deploy)`,
      async () => {
        const result = await cdktf([
          "deploy",
          stack,
          "--auto-approve",
          "--skip-synth",
          "--skip-provider-lock",
          "--disable-plugin-cache-env",
        ]);
        const summary = plainLines(result.output, [...STACKS])
          .map((l) => l.trim())
          .find((l) => /^Apply complete!/.test(l));
        if (!summary) throw new Error(`cdktf reported success but no "Apply complete!" line`);
        return summary;
      },
      (s) => s,
    );

  const replan = (stack: string) =>
    steps.run(
      `re-plan ${stack} (terraform plan)`,
      async () => {
        const planFile = join(workdir, `${stack}.tfplan`);
        const plan = await children.run(
          "terraform",
          ["plan", "-input=false", "-no-color", "-detailed-exitcode", `-out=${planFile}`],
          { cwd: stackDir(stack), env: tfEnv(), onOutput: stream },
        );
        if (plan.code !== 0 && plan.code !== 2) {
          throw new Error(`terraform plan failed:\n${failureMessage(plan.output)}`);
        }
        const shown = await mustRun("terraform", ["show", "-json", planFile], stackDir(stack));
        const changes = plannedChanges(shown.stdout);
        if (changes.length > 0) {
          const text = await mustRun("terraform", ["show", "-no-color", planFile], stackDir(stack));
          writeFileSync(join(workdir, `${stack}-replan.txt`), text.stdout);
          throw new Error(
            `the plan right after apply is not clean:\n${changes.map((c) => `  ${c.actions.join("/")} ${c.address}`).join("\n")}\n\n${planDetail(text.stdout)}`,
          );
        }
        return ignoredCount[stack] > 0
          ? `no changes (${ignoredCount[stack]} resources compared without the attributes the exceptions file names)`
          : "no changes";
      },
      (s) => s,
    );

  await deploy("bootstrap");
  const bootstrapKey = (
    JSON.parse(
      (await mustRun("terraform", ["output", "-json"], stackDir("bootstrap"))).stdout,
    ) as Record<string, { value: string }>
  ).state_bucket_kms_key_arn.value;
  const checks = options.platform === undefined;
  // bootstrap's re-plan reads only bootstrap's state: it runs while shared deploys.
  await Promise.all([checks ? replan("bootstrap") : undefined, deploy("shared")]);

  const sharedChecks = async () => {
    if (!checks) return;
    type StateObject = {
      exists: boolean;
      versioning?: string;
      versionId?: string;
      versions?: number;
      etag?: string;
      serverSideEncryption?: string;
      kmsKeyId?: string;
      kmsKeyArn?: string;
      lockObject?: boolean;
      error?: string;
    };
    const stateKey = sharedStateKey("shared");
    const before = await steps.run(
      "state object: versioned, encrypted with the bootstrap key",
      async () => {
        const obj = await aws<StateObject>("state-object", stateBucket, stateKey);
        const problems: string[] = [];
        if (!obj.exists)
          problems.push(`s3://${stateBucket}/${stateKey} does not exist: ${obj.error}`);
        if (obj.versioning !== "Enabled") problems.push(`bucket versioning is ${obj.versioning}`);
        if (obj.exists && !obj.versionId) problems.push("the object has no version id");
        if (obj.exists && obj.serverSideEncryption !== "aws:kms") {
          problems.push(`encrypted with ${obj.serverSideEncryption ?? "nothing"}, not aws:kms`);
        }
        if (obj.exists && obj.kmsKeyArn !== bootstrapKey) {
          problems.push(
            `encrypted with key ${obj.kmsKeyId ?? "(none)"}, not the bootstrap key ${bootstrapKey}`,
          );
        }
        if (problems.length > 0) throw new Error(problems.join("\n"));
        return obj;
      },
      (o) =>
        `s3://${stateBucket}/${stateKey} version ${o.versionId} (${o.versions} versions), ${o.serverSideEncryption} with ${o.kmsKeyId} = ${o.kmsKeyArn}`,
    );

    await steps.run(
      "state lock: a plan fails while an apply holds the lock",
      async () => {
        const target = listBlocks("shared", readStack("shared")).find((b) => b.managed);
        if (!target) throw new Error("shared has no resource to propose a change on");
        // An apply that proposes a change waits at its confirmation prompt holding the lock.
        const apply = children.spawn(
          "terraform",
          ["apply", "-input=true", "-no-color", `-replace=${target.address}`],
          {
            cwd: stackDir("shared"),
            env: tfEnv({ TF_INPUT: "1" }),
            stdio: ["pipe", "pipe", "pipe"],
          },
        );
        let applyOut = "";
        const prompted = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`apply did not reach its prompt:\n${failureMessage(applyOut)}`)),
            180_000,
          );
          const onData = (d: Buffer) => {
            applyOut += d.toString();
            if (/Enter a value:/.test(applyOut)) {
              clearTimeout(timer);
              resolve();
            }
          };
          apply.stdout?.on("data", onData);
          apply.stderr?.on("data", onData);
          apply.once("exit", (code) => {
            clearTimeout(timer);
            reject(
              new Error(
                `apply exited with ${code} before its prompt:\n${failureMessage(applyOut)}`,
              ),
            );
          });
        });
        const applyExit = new Promise<number | null>((resolve) =>
          apply.once("exit", (c) => resolve(c)),
        );
        try {
          await prompted;
          const held = await aws<StateObject>("state-object", stateBucket, stateKey);
          if (!held.lockObject)
            throw new Error(`no lock object ${stateKey}.tflock while the apply waits`);
          const second = await children.run(
            "terraform",
            ["plan", "-input=false", "-no-color", "-lock-timeout=0s"],
            { cwd: stackDir("shared"), env: tfEnv(), onOutput: stream },
          );
          writeFileSync(join(workdir, "lock-plan.txt"), second.output);
          const lock = parseLockError(second.output);
          if (second.code === 0 || !lock) {
            throw new Error(
              `the second plan did not fail with terraform's lock error (exit ${second.code}):\n${failureMessage(second.output)}`,
            );
          }
          if (lock.operation !== "OperationTypeApply") {
            throw new Error(`the lock is held by ${lock.operation}, not the apply`);
          }
          print(
            `  second plan: exit ${second.code}, ${failureMessage(second.output).split("\n")[0]}`,
          );
          print(
            `  lock: ID ${lock.id}, Path ${lock.path}, Operation ${lock.operation}, Who ${lock.who}`,
          );
          apply.stdin?.end("no\n");
          await applyExit;
          if (!/Apply cancelled/.test(applyOut)) {
            throw new Error(`the apply was not cancelled:\n${failureMessage(applyOut)}`);
          }
        } finally {
          if (apply.exitCode === null) await stopGroup(apply);
        }
        const after = await aws<StateObject>("state-object", stateBucket, stateKey);
        if (after.versionId !== before.versionId || after.etag !== before.etag) {
          throw new Error(`the state changed: version ${before.versionId} -> ${after.versionId}`);
        }
        if (after.lockObject) throw new Error("the lock object is still there after both");
        return after;
      },
      (a) => `lock error seen; state unchanged (version ${a.versionId}); lock released`,
    );

    await replan("shared");
  };

  const sharedOutputs = JSON.parse(
    (await mustRun("terraform", ["output", "-json"], stackDir("shared"))).stdout,
  ) as Record<string, { value: unknown }>;
  const clusterName = String(sharedOutputs.cluster_name?.value ?? "");
  differences.use("kwok-nodes");
  differences.use("fake-load-balancer");
  // The lock and re-plan checks touch only shared's state; the local cluster starts meanwhile.
  const [, cluster] = await Promise.all([
    sharedChecks(),
    startLocalCluster({
      steps,
      children,
      cleanup,
      workdir,
      region,
      describeNodeGroups: () => aws("node-groups", clusterName),
    }),
  ]);
  differences.use("local-cluster-target");
  const platformEnv: NodeJS.ProcessEnv = {
    ...tfEnv(localClusterVars(cluster.kubeconfig)),
    ...cluster.env,
    PATH: `${join(TOOLS_DIR, "bin")}:${process.env.PATH ?? ""}`,
  };
  // cdktf's provider lock asks the registry for every platform's checksums; the mirror here holds
  // one platform, built from source, whose checksums are not the registry's.
  differences.use("provider-lock");
  const commands = new DeliveryCommands(
    children,
    ws,
    platformEnv,
    [...STACKS, ...ENVIRONMENT_STACKS],
    ["--skip-provider-lock"],
    stream,
  );
  const prodWs = Workspace.create(REPO_ROOT, join(workdir, "checkout-prod"));
  const prodCommands = new DeliveryCommands(
    children,
    prodWs,
    platformEnv,
    [...STACKS, ...ENVIRONMENT_STACKS],
    ["--skip-provider-lock"],
    stream,
  );
  const commits = recentCommits();
  const appVersion = config.appVersion;
  let platformFailure: unknown;
  try {
    await (options.platform ?? rehearsePlatform)({
      steps,
      ws,
      commands,
      prodCheckout: { ws: prodWs, commands: prodCommands },
      cluster,
      commits,
      appVersion,
      differences,
      print,
    });
  } catch (error) {
    platformFailure = error;
    print(
      `\nrehearse: ${error instanceof Error ? error.message : String(error)}\nrehearse: destroying what was deployed`,
    );
  }

  // Destroy in reverse order, also after a failure, so the emulator and the cluster end empty.
  const destroyFailures: unknown[] = [];
  const afterFailure = async (run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (error) {
      if (!platformFailure) throw error;
      destroyFailures.push(error);
    }
  };
  for (const stack of [...ENVIRONMENT_STACKS].reverse()) {
    await afterFailure(() =>
      steps.run(
        `destroy ${stack} (cdktf destroy)`,
        async () => {
          const result = await commands.cdktf(
            ["destroy", stack, "--auto-approve", "--ignore-missing-stack-dependencies"],
            { IMAGE_TAG_DEV: `sha-${commits[0]}` },
          );
          if (result.code !== 0) {
            throw new Error(
              `cdktf destroy ${stack} exited with ${result.code}:\n${failureMessage(result.output, [...STACKS, ...ENVIRONMENT_STACKS])}`,
            );
          }
          const summary = plainLines(result.output, [...STACKS, ...ENVIRONMENT_STACKS])
            .map((l) => l.trim())
            .find((l) => /^Destroy complete!/.test(l));
          return summary ?? "destroyed";
        },
        (s) => s,
      ),
    );
  }
  await afterFailure(() =>
    steps.run(
      "no namespace of ours is left in the cluster",
      async () => {
        const left = await cluster.clients.getList(
          "namespaces",
          undefined,
          "app.kubernetes.io/part-of=api",
        );
        const names = left.items
          .filter((n) => n.status?.phase !== "Terminating")
          .map((n) => n.metadata.name);
        if (names.length > 0) throw new Error(`left after destroy: ${names.join(", ")}`);
        return `${left.items.length} terminating, none active`;
      },
      (s) => s,
    ),
  );
  if (platformFailure) throw platformFailure;
  const unused = differences.unused();
  if (checks && unused.length > 0) {
    throw new Error(
      `rehearse/emulator-exceptions.yaml lists differences the rehearsal no longer has: ${unused.map((d) => d.id).join(", ")}`,
    );
  }

  await steps.run("destroy shared (cdktf destroy)", async () => {
    await cdktf([
      "destroy",
      "shared",
      "--auto-approve",
      "--skip-synth",
      "--disable-plugin-cache-env",
      // dev and prod (destroyed above) read shared's outputs; this output folder has only shared.
      "--ignore-missing-stack-dependencies",
    ]);
  });
  await steps.run(
    "empty the state bucket (every version)",
    () => aws<{ deleted: number }>("empty-bucket", stateBucket),
    (r) => `${r.deleted} object versions deleted`,
  );
  await steps.run("destroy bootstrap (cdktf destroy)", async () => {
    await cdktf([
      "destroy",
      "bootstrap",
      "--auto-approve",
      "--skip-synth",
      "--disable-plugin-cache-env",
    ]);
  });

  await steps.run(
    "the emulator holds nothing the stacks created",
    async () => {
      const left = leftovers(baseline, await aws<Inventory>("inventory"));
      const lines = Object.entries(left).map(([kind, ids]) => `  ${kind}: ${ids.join(", ")}`);
      if (lines.length > 0) throw new Error(`left after destroy:\n${lines.join("\n")}`);
      return "nothing left";
    },
    (s) => s,
  );

  return steps;
}

/** The two newest commits (for `sha-<commit>` tags); a shallow clone repeats the one it has. */
function recentCommits(): [string, string] {
  const out = execFileSync("git", ["log", "-2", "--format=%H"], { cwd: REPO_ROOT }).toString();
  const [head, previous] = out.trim().split("\n");
  if (!head) throw new Error("git log found no commit");
  return [head, previous ?? head];
}

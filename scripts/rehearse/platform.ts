/**
 * The environments, deployed and changed the way the workflows do it, into the local cluster: dev
 * and prod through `cdktf deploy` with the real helm and kubernetes providers, reading shared's
 * outputs from the emulated S3 state; then each delivery flow (deploy-dev, the blue/green release
 * and its rollback, adding and removing a customer), the failures a user meets, drift that only
 * the live objects show, and a re-plan after every apply that must be empty.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  colourRelease,
  customerNamespace,
  environmentNamespace,
  liveService,
  WORKLOAD_ENV_LABEL,
  type Colour,
} from "../../config";
import type { Clients } from "./cluster/kube";
import { podReady, warningMessages, workloadPods, type KubeItem } from "./cluster/readiness";
import type { LocalCluster } from "./cluster/start";
import { DeliveryCommands, type DeployResult, type Vars } from "./delivery";
import { planFolderObservation } from "../delivery/drift";
import type { Differences } from "./exceptions";
import { errorBlocks } from "./output";
import { waitFor } from "./processes";
import { StepFailure, type Steps } from "./steps";
import type { Workspace } from "./workspace";

/** What the platform phase needs from the rehearsal. */
export interface PlatformContext {
  readonly steps: Steps;
  readonly ws: Workspace;
  readonly commands: DeliveryCommands;
  readonly cluster: LocalCluster;
  /** Two real commits of the repository, newest first (for `sha-<commit>` tags). */
  readonly commits: readonly [string, string];
  /** The API's version (`api/package.json`). */
  readonly appVersion: string;
  /** prod's own checkout and commands, so that its flows run beside dev's. */
  readonly prodCheckout?: { readonly ws: Workspace; readonly commands: DeliveryCommands };
  /** The listed differences from a real deploy; each is named before it is relied on. */
  readonly differences: Differences;
  readonly print: (line: string) => void;
}

/** The failure rehearsals' release timeout: long enough to sample, short enough for CI. */
const FAILURE_TIMEOUT_SECONDS = 30;
/** A customer the rehearsal adds and removes, as a developer would in `config/settings.ts`. */
const CUSTOMER = { id: "rehearsal-co", displayName: "Rehearsal Co" };

function firstLine(text: string, pattern: RegExp): string {
  return (
    text
      .split("\n")
      .find((l) => pattern.test(l))
      ?.trim() ?? ""
  );
}

/** terraform's error as the job log shows it: its first `Error:` block, or the log's tail. */
export function userError(result: DeployResult): string {
  const blocks = errorBlocks(result.log);
  if (blocks.length > 0) return blocks.slice(0, 2).join("\n");
  return result.log.split("\n").slice(-10).join("\n");
}

/** Deploys, expects success with terraform's `Apply complete!`, then re-plans to nothing. */
async function deployClean(ctx: PlatformContext, stack: string, vars: Vars): Promise<DeployResult> {
  const result = await deployJob(ctx, stack, vars);
  if (!result.ok) {
    throw new Error(
      `cdktf deploy ${stack} exited with ${result.exitCode}:\n${userError(result)}${await warnings(ctx, stack)}`,
    );
  }
  if (!result.summary) throw new Error(`cdktf deploy ${stack} printed no "Apply complete!" line`);
  const changes = await ctx.commands.replan(stack);
  if (changes.length > 0) {
    throw new Error(
      `the re-plan of ${stack} right after the apply is not empty:\n  ${changes.join("\n  ")}`,
    );
  }
  return result;
}

/** The namespace's latest warning events, which say why a release timed out (`kubectl get events`). */
async function warnings(ctx: PlatformContext, stack: string): Promise<string> {
  const ns = environmentNamespace(stack);
  try {
    const messages = warningMessages(await ctx.cluster.clients.getList("events", ns));
    if (messages.length === 0) return `\nno warning events in ${ns}`;
    return `\nwarning events in ${ns} (latest ${Math.min(messages.length, 8)}):\n  ${messages.slice(-8).join("\n  ")}`;
  } catch (error) {
    return `\nthe events of ${ns} could not be read: ${(error as Error).message}`;
  }
}

/**
 * A deploy job's two steps: the recover step (which synthesizes with the job's variables), then
 * `cdktf deploy --skip-synth` of what it synthesized.
 */
async function deployJob(ctx: PlatformContext, stack: string, vars: Vars): Promise<DeployResult> {
  await recover(ctx, stack, vars);
  return ctx.commands.deploy(stack, vars);
}

/** The workflows' step before every deploy: synthesize, then recover what an interrupted deploy left. */
async function recover(
  ctx: PlatformContext,
  stack: string,
  vars: Vars,
): Promise<Record<string, string>> {
  await ctx.commands.must("npm", ["run", "--silent", "synth"], vars);
  const state = await ctx.commands.delivery(["recover-state", "--env", stack], vars);
  const releases = await ctx.commands.delivery(["recover-releases", "--env", stack], vars);
  return { ...state, ...releases };
}

function note(result: DeployResult): string {
  return `${result.summary}; re-plan: no changes`;
}

interface Deployment extends KubeItem {
  spec: KubeItem["spec"] & {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { spec: { containers: { name: string; image: string }[] } };
  };
}

function selector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** The Deployment a release rendered, found by the release's instance label. */
async function releaseDeployment(k: Clients, ns: string, release: string): Promise<Deployment> {
  const list = await k.getList<Deployment>(
    "deployments",
    ns,
    `app.kubernetes.io/instance=${release}`,
  );
  if (list.items.length !== 1) {
    throw new Error(
      `expected one Deployment of release ${release} in ${ns}, found ${list.items.length}`,
    );
  }
  return list.items[0]!;
}

/** Ready workload pods of a Deployment, and the image each runs. */
async function readyPods(k: Clients, ns: string, dep: Deployment): Promise<KubeItem[]> {
  const pods = workloadPods(await k.getList("pods", ns, selector(dep.spec.selector.matchLabels)));
  return pods.filter(podReady);
}

/**
 * Checks a release as the cluster runs it: every pod Ready, as many as the Deployment wants, each
 * running `image`, on nodes of the environment's own node group.
 */
async function checkRelease(
  ctx: PlatformContext,
  env: string,
  ns: string,
  release: string,
  image?: string,
): Promise<string> {
  const k = ctx.cluster.clients;
  const found = await waitFor(
    `release ${release} in ${ns} to run its pods`,
    async () => {
      const dep = await releaseDeployment(k, ns, release);
      const want = dep.spec.replicas ?? 1;
      const pods = await readyPods(k, ns, dep);
      const images = pods.map(
        (p) => (p.spec as { containers: { image: string }[] }).containers[0]?.image ?? "",
      );
      if (pods.length !== want || (image && images.some((i) => !i.endsWith(`:${image}`)))) {
        return undefined;
      }
      return { dep, pods, want };
    },
    60_000,
  );
  const nodes = await k.getList("nodes");
  const envOf = new Map(
    nodes.items.map((n) => [n.metadata.name, n.metadata.labels?.[WORKLOAD_ENV_LABEL]]),
  );
  const off = found.pods.filter((p) => envOf.get(p.spec?.nodeName ?? "") !== env);
  if (off.length > 0) {
    throw new Error(
      `pods of ${release} off the ${env} node group: ${off.map((p) => p.metadata.name).join(", ")}`,
    );
  }
  const zones = new Set(
    found.pods.map(
      (p) =>
        nodes.items.find((n) => n.metadata.name === p.spec?.nodeName)?.metadata.labels?.[
          "topology.kubernetes.io/zone"
        ],
    ),
  );
  return `${ns}/${release}: ${found.want}/${found.want} pods Ready on ${env} nodes in ${zones.size} zone(s)${image ? `, image ${image}` : ""}`;
}

/** The colour the stable Service of a blue/green namespace selects. */
async function servingColour(k: Clients, ns: string): Promise<string> {
  const svc = await k.getJson<{ spec: { selector: Record<string, string> } }>(
    "service",
    liveService(),
    ns,
  );
  const colour = svc.spec.selector.colour;
  if (!colour) throw new Error(`Service api-live in ${ns} selects no colour`);
  return colour;
}

/**
 * Samples, every 500 ms until stopped, the pods of whichever colour the stable Service selects:
 * each sample counts its Ready pods.
 */
function sampleServing(k: Clients, ns: string, want: number) {
  let stopped = false;
  const samples: { colour: string; ready: number }[] = [];
  const errors: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      try {
        const colour = await servingColour(k, ns);
        const dep = await releaseDeployment(k, ns, colourRelease(colour as Colour));
        samples.push({ colour, ready: (await readyPods(k, ns, dep)).length });
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  return {
    async stop(): Promise<string> {
      stopped = true;
      await loop;
      const short = samples.filter((s) => s.ready < want);
      if (samples.length < 5) throw new Error(`only ${samples.length} samples were taken`);
      if (short.length > 0 || errors.length > 0) {
        throw new Error(
          `the serving colour was short of Ready pods in ${short.length} of ${samples.length} samples (${JSON.stringify(short.slice(0, 5))}); errors: ${errors.slice(0, 3).join("; ")}`,
        );
      }
      const colours = samples
        .map((s) => s.colour)
        .filter((c, i, all) => i === 0 || all[i - 1] !== c)
        .join(" then ");
      return `${samples.length} samples, serving ${colours}, at least ${want} Ready pods in each`;
    },
  };
}

/** Awaits both; rethrows the first failure only once both have finished. */
/** Waits for both flows; the first failure is thrown, a second one is printed so it is not lost. */
async function both(
  print: (line: string) => void,
  a: Promise<void>,
  b: Promise<void>,
): Promise<void> {
  const failures = (await Promise.allSettled([a, b])).flatMap((r) =>
    r.status === "rejected" ? [r.reason as unknown] : [],
  );
  for (const extra of failures.slice(1)) {
    const text =
      extra instanceof StepFailure ? `step "${extra.step}":\n${extra.detail}` : String(extra);
    print(`\nrehearse: the other flow failed too, at ${text}`);
  }
  if (failures.length > 0) throw failures[0];
}

/**
 * Runs the whole platform phase. dev and prod are separate workspaces with separate state, as
 * their workflows are, so their flows run side by side, each in its own checkout.
 */
export async function rehearsePlatform(ctx: PlatformContext): Promise<void> {
  const { steps, cluster } = ctx;
  const k = cluster.clients;
  const [head, previous] = ctx.commits;
  const devVars = (commit: string): Vars => ({ IMAGE_TAG_DEV: `sha-${commit}`, GIT_SHA: commit });
  const prod: PlatformContext = { ...ctx, ...ctx.prodCheckout };

  const devFlows = async () => {
    await steps.run(
      "deploy dev (cdktf deploy, helm and kubernetes providers)",
      async () => note(await deployClean(ctx, "dev", devVars(previous))),
      (s) => s,
    );
    await steps.run(
      "dev: the release runs",
      () => checkRelease(ctx, "dev", environmentNamespace("dev"), "api", `sha-${previous}`),
      (s) => s,
    );
    await steps.run(
      "deploy-dev: a new sha-<commit> tag rolls dev",
      async () => {
        const result = await deployClean(ctx, "dev", devVars(head));
        return `${note(result)}; ${await checkRelease(ctx, "dev", environmentNamespace("dev"), "api", `sha-${head}`)}`;
      },
      (s) => s,
    );
    await rehearseDrift(ctx, devVars(head));
    await rehearseFailures(ctx, devVars, head);
  };

  const prodFlows = async () => {
    await steps.run(
      "deploy prod (cdktf deploy, both colours)",
      async () => note(await deployClean(prod, "prod", {})),
      (s) => s,
    );
    await steps.run(
      "prod: both colours run, the stable Service selects the committed one",
      async () => {
        const lines = [
          await checkRelease(prod, "prod", environmentNamespace("prod"), "api-blue"),
          await checkRelease(prod, "prod", environmentNamespace("prod"), "api-green"),
        ];
        lines.push(`api-live selects ${await servingColour(k, environmentNamespace("prod"))}`);
        return lines.join("; ");
      },
      (s) => s,
    );
    await rehearseCustomers(prod, "prod", {});
    const released = await rehearseRelease(prod);
    // One failure runs in prod's flow, beside dev's: the rehearsal's critical path is dev's.
    await withFailureTimeout(prod, "prod", released, () =>
      podSecurityFailure(prod, "prod", released),
    );
  };

  await both(ctx.print, devFlows(), prodFlows());
}

/** release.yml's blue/green steps, then rollback.yml, with the serving colour sampled throughout. */
async function rehearseRelease(ctx: PlatformContext): Promise<Vars> {
  const { steps, commands } = ctx;
  const k = ctx.cluster.clients;
  const tag = `release-${ctx.appVersion}-rc.1`;
  const prodReplicas = await releaseDeployment(
    k,
    environmentNamespace("prod"),
    colourRelease((await servingColour(k, environmentNamespace("prod"))) as Colour),
  );
  const want = prodReplicas.spec.replicas ?? 1;
  const sampler = sampleServing(k, environmentNamespace("prod"), want);
  let vars: Record<string, string> = {};
  try {
    const before = await servingColour(k, environmentNamespace("prod"));
    await steps.run(
      `release 1/3: ${tag} into the idle colour (blue-green --step deploy, cdktf deploy prod)`,
      async () => {
        const current = await commands.outputsFile("prod");
        vars = await commands.delivery([
          "blue-green",
          "--env",
          "prod",
          "--outputs",
          current,
          "--step",
          "deploy",
          "--tag",
          tag,
        ]);
        const result = await deployClean(ctx, "prod", vars);
        const idle = vars.BLUE_GREEN_RELEASE ?? "";
        return `${Object.entries(vars)
          .map(([key, v]) => `${key}=${v}`)
          .join(
            " ",
          )}; ${note(result)}; ${await checkRelease(ctx, "prod", environmentNamespace("prod"), idle, tag)}; api-live still selects ${await servingColour(k, environmentNamespace("prod"))}`;
      },
      (s) => s,
    );
    if ((await servingColour(k, environmentNamespace("prod"))) !== before) {
      throw new Error("the deploy into the idle colour moved traffic");
    }
    await steps.run(
      "release 2/3: helm test of the idle colour",
      async () => {
        ctx.differences.use("no-pod-logs");
        const release = vars.BLUE_GREEN_RELEASE ?? "";
        const test = await commands.run("helm", [
          "test",
          release,
          "--namespace",
          environmentNamespace("prod"),
          "--timeout",
          "5m",
          // The workflow adds --logs; no kubelet serves pod logs here (listed difference).
        ]);
        if (test.code !== 0) throw new Error(`helm test ${release} failed:\n${test.output.trim()}`);
        return `${release}: ${firstLine(test.stdout, /Phase:/) || "passed"} (the test pod is admitted and scheduled; kwok completes it)`;
      },
      (s) => s,
    );
    await steps.run(
      "release 3/3: switch (blue-green --step switch, cdktf deploy prod)",
      async () => {
        const deployed = await commands.outputsFile("prod", vars);
        const switchVars = await commands.delivery(
          ["blue-green", "--env", "prod", "--outputs", deployed, "--step", "switch"],
          vars,
        );
        vars = { ...vars, ...switchVars };
        const result = await deployClean(ctx, "prod", vars);
        const now = await servingColour(k, environmentNamespace("prod"));
        if (now === before) throw new Error(`api-live still selects ${before} after the switch`);
        return `${note(result)}; api-live: ${before} -> ${now}`;
      },
      (s) => s,
    );
    await steps.run(
      "rollback: flip back (delivery rollback, cdktf deploy prod)",
      async () => {
        const current = await commands.outputsFile("prod", vars);
        const back = await commands.delivery(
          ["rollback", "--env", "prod", "--outputs", current],
          vars,
        );
        vars = { ...vars, ...back };
        const result = await deployClean(ctx, "prod", vars);
        const now = await servingColour(k, environmentNamespace("prod"));
        if (now !== before)
          throw new Error(`api-live selects ${now} after the rollback, not ${before}`);
        return `${note(result)}; api-live back on ${now}`;
      },
      (s) => s,
    );
  } finally {
    await steps.run(
      "release: the serving colour's pods stayed Ready in every sample",
      () => sampler.stop(),
      (s) => s,
    );
  }
  return vars;
}

/**
 * A customer added to one environment and removed in `config/settings.ts`, planned and applied as
 * CI does. prod's flow runs it (before the release, whose deploys change the colours' tags), so
 * that it runs beside dev's failure rehearsals.
 */
async function rehearseCustomers(ctx: PlatformContext, env: string, vars: Vars): Promise<void> {
  const { steps, commands, ws } = ctx;
  const k = ctx.cluster.clients;
  const ns = customerNamespace(env, CUSTOMER.id);
  const plan = async (): Promise<{ address: string; actions: string[] }[]> => {
    const dir = join(ws.dir, "rehearse-plans");
    await commands.must("npm", ["run", "--silent", "plan:stacks", "--", dir, env], vars);
    const json = JSON.parse(readFileSync(join(dir, `${env}.json`), "utf8")) as {
      resource_changes?: { address: string; change: { actions: string[] } }[];
    };
    return (json.resource_changes ?? [])
      .filter((c) => !c.change.actions.every((a) => a === "no-op" || a === "read"))
      .map((c) => ({ address: c.address, actions: c.change.actions }));
  };
  const ours = (address: string) =>
    address.includes(`Customer-${CUSTOMER.id}`) || address.includes(CUSTOMER.id);

  ws.editSettings(
    `settings.customers = [{ id: ${JSON.stringify(CUSTOMER.id)}, displayName: ${JSON.stringify(CUSTOMER.displayName)}, environments: { ${env}: { enabled: true, message: "Hello from the rehearsal" } } }];`,
  );
  await steps.run(
    `customers: adding one to ${env} plans only its own resources (npm run plan:stacks)`,
    async () => {
      const changes = await plan();
      const others = changes.filter((c) => !ours(c.address) || c.actions.join() !== "create");
      if (changes.length === 0) throw new Error("the plan adds nothing for the new customer");
      if (others.length > 0) {
        throw new Error(
          `the plan changes more than the new customer's resources:\n  ${others.map((c) => `${c.actions.join("/")} ${c.address}`).join("\n  ")}`,
        );
      }
      return `${changes.length} to add, all the customer's: ${[...new Set(changes.map((c) => c.address.split(".")[0]))].join(", ")}`;
    },
    (s) => s,
  );
  await steps.run(
    `customers: cdktf deploy ${env} creates its namespace, quota, policies and release`,
    async () => {
      const result = await deployClean(ctx, env, vars);
      const kinds = [];
      for (const kind of ["resourcequota", "limitrange", "networkpolicy"]) {
        const list = await k.getList(kind, ns);
        if (list.items.length === 0) throw new Error(`no ${kind} in ${ns}`);
        kinds.push(`${list.items.length} ${kind}`);
      }
      const nsObj = await k.getJson<KubeItem>("namespace", ns);
      if (nsObj.metadata.labels?.["pod-security.kubernetes.io/enforce"] !== "restricted") {
        throw new Error(`${ns} does not enforce Pod Security restricted`);
      }
      return `${note(result)}; ${kinds.join(", ")}; ${await checkRelease(ctx, env, ns, "api")}`;
    },
    (s) => s,
  );
  ws.restore("config/settings.ts");
  await steps.run(
    "customers: removing it plans only its own resources for destruction",
    async () => {
      const changes = await plan();
      const others = changes.filter((c) => !ours(c.address) || c.actions.join() !== "delete");
      if (changes.length === 0) throw new Error("the plan destroys nothing");
      if (others.length > 0) {
        throw new Error(
          `the plan changes more than the customer's resources:\n  ${others.map((c) => `${c.actions.join("/")} ${c.address}`).join("\n  ")}`,
        );
      }
      return `${changes.length} to destroy, all the customer's`;
    },
    (s) => s,
  );
  await steps.run(
    `customers: cdktf deploy ${env} destroys exactly them`,
    async () => {
      const result = await deployClean(ctx, env, vars);
      await waitFor(
        `namespace ${ns} to be gone`,
        async () => ((await k.kubectl(["get", "namespace", ns])).status !== 0 ? true : undefined),
        120_000,
        1000,
      );
      return `${note(result)}; namespace ${ns} is gone`;
    },
    (s) => s,
  );
}

/** Counts Ready pods of the Deployment's current template every 500 ms while `during` runs. */
async function sampleReady<T>(
  k: Clients,
  ns: string,
  release: string,
  during: () => Promise<T>,
): Promise<{ value: T; before: number; min: number; samples: number }> {
  const dep = await releaseDeployment(k, ns, release);
  const before = (await readyPods(k, ns, dep)).length;
  const hashes = new Set(
    (await readyPods(k, ns, dep)).map((p) => p.metadata.labels?.["pod-template-hash"]),
  );
  let min = before;
  let samples = 0;
  let done = false;
  const loop = (async () => {
    while (!done) {
      const pods = await readyPods(k, ns, dep).catch(() => []);
      min = Math.min(
        min,
        pods.filter((p) => hashes.has(p.metadata.labels?.["pod-template-hash"])).length,
      );
      samples++;
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  try {
    const value = await during();
    return { value, before, min, samples };
  } finally {
    done = true;
    await loop;
  }
}

/** A chart change that breaks Pod Security: the server refuses the pods, the release rolls back. */
async function podSecurityFailure(ctx: PlatformContext, env: string, vars: Vars): Promise<void> {
  const { steps, ws } = ctx;
  const k = ctx.cluster.clients;
  const ns = environmentNamespace(env);
  await steps.run(
    `failure (${env}): a chart change that breaks Pod Security`,
    async () => {
      ws.edit("helm/api/templates/deployment.yaml", (t) =>
        t.replace(/allowPrivilegeEscalation: false/g, "allowPrivilegeEscalation: true"),
      );
      try {
        const result = await deployJob(ctx, env, vars);
        if (result.ok)
          throw new Error("cdktf deploy succeeded with pods that violate Pod Security restricted");
        const seen = userError(result);
        const events = await k.getList("events", ns);
        const refused = events.items
          .map((e) => (e as unknown as { message?: string }).message ?? "")
          .find((m) => /violates PodSecurity "restricted/.test(m));
        if (!refused)
          throw new Error(`no Pod Security refusal among the events; user sees:\n${seen}`);
        return `exit ${result.exitCode}; user sees:\n${seen}\nthe server: ${refused}`;
      } finally {
        ws.restore("helm/api/templates/deployment.yaml");
      }
    },
    (s) => s,
  );
}

/**
 * Runs `body` with the environment's Helm timeout at the failure rehearsals' (a settings change,
 * applied first), then brings back the committed settings in the checkout. The environment keeps
 * the short timeout until the destroy that follows.
 */
async function withFailureTimeout(
  ctx: PlatformContext,
  env: string,
  vars: Vars,
  body: () => Promise<void>,
): Promise<void> {
  ctx.differences.use("failure-timeout");
  ctx.differences.use("injected-faults");
  ctx.ws.editSettings(
    `settings.environments.${env}.api.helmTimeoutSeconds = ${FAILURE_TIMEOUT_SECONDS};`,
  );
  try {
    await ctx.steps.run(
      `${env}: timeout ${FAILURE_TIMEOUT_SECONDS} s for the failure rehearsals (a settings change, applied)`,
      async () => note(await deployClean(ctx, env, vars)),
      (s) => s,
    );
    await body();
  } finally {
    ctx.ws.restore();
  }
}

/** Failures a user meets, through `cdktf deploy`, each with the message the job log shows. */
async function rehearseFailures(
  ctx: PlatformContext,
  devVars: (commit: string) => Vars,
  head: string,
): Promise<void> {
  const { steps, commands } = ctx;
  const k = ctx.cluster.clients;
  const broken = devVars("0".repeat(39) + "1");
  await withFailureTimeout(ctx, "dev", devVars(head), async () => {
    await steps.run(
      "failure: an upgrade that never becomes ready is rolled back by atomic",
      async () => {
        const nodes = (await k.getList("nodes", undefined, `${WORKLOAD_ENV_LABEL}=dev`)).items.map(
          (n) => n.metadata.name,
        );
        // No room for a new pod anywhere in dev's node group: the upgrade's pods stay Pending.
        await k.kubectlOk(["taint", "nodes", ...nodes, "rehearse/full=true:NoSchedule"]);
        try {
          const {
            value: result,
            before,
            min,
            samples,
          } = await sampleReady(k, environmentNamespace("dev"), "api", () =>
            deployJob(ctx, "dev", broken),
          );
          if (result.ok)
            throw new Error("cdktf deploy succeeded with pods that never became ready");
          const seen = userError(result);
          if (!/rolled back|rollback/i.test(seen))
            throw new Error(`the error does not say the release was rolled back:\n${seen}`);
          if (min < before)
            throw new Error(
              `the previous pods dropped from ${before} to ${min} Ready during the upgrade`,
            );
          const status = await k.releaseStatus("api", environmentNamespace("dev"));
          if (status?.status !== "deployed")
            throw new Error(`release status after the rollback: ${JSON.stringify(status)}`);
          return `exit ${result.exitCode}; user sees:\n${seen}\nprevious pods: ${before} Ready, at least ${min} in each of ${samples} samples; release ${status.status} (${status.description})`;
        } finally {
          await k.kubectlOk(["taint", "nodes", ...nodes, "rehearse/full=true:NoSchedule-"]);
        }
      },
      (s) => s,
    );

    await steps.run(
      "failure: a quota too small for the release",
      async () => {
        const dep = await releaseDeployment(k, environmentNamespace("dev"), "api");
        const pods = (await readyPods(k, environmentNamespace("dev"), dep)).length;
        // A quota outside the stack (a cluster policy, say) leaves no room for the rollout's surge pod.
        const quota = {
          apiVersion: "v1",
          kind: "ResourceQuota",
          metadata: { name: "rehearse-too-small", namespace: environmentNamespace("dev") },
          spec: { hard: { pods: String(pods) } },
        };
        await k.kubectlOk(["apply", "-f", "-"], JSON.stringify(quota));
        try {
          const result = await deployJob(ctx, "dev", broken);
          if (result.ok) throw new Error("cdktf deploy succeeded although the quota has no room");
          const seen = userError(result);
          const events = await k.getList("events", environmentNamespace("dev"));
          const exceeded = events.items
            .map((e) => (e as unknown as { message?: string }).message ?? "")
            .find((m) => /exceeded quota/.test(m));
          if (!exceeded) throw new Error(`no quota refusal among the events; user sees:\n${seen}`);
          return `exit ${result.exitCode}; user sees:\n${seen}\nthe server: ${exceeded}`;
        } finally {
          await k.kubectlOk([
            "delete",
            "resourcequota",
            "rehearse-too-small",
            "-n",
            environmentNamespace("dev"),
          ]);
        }
      },
      (s) => s,
    );

    await steps.run(
      "failure: a deploy killed mid-apply (SIGKILL during the helm upgrade)",
      async () => {
        const nodes = (await k.getList("nodes", undefined, `${WORKLOAD_ENV_LABEL}=dev`)).items.map(
          (n) => n.metadata.name,
        );
        await k.kubectlOk(["taint", "nodes", ...nodes, "rehearse/full=true:NoSchedule"]);
        let pending: string;
        try {
          await recover(ctx, "dev", broken);
          const { child, result } = commands.startDeploy("dev", broken);
          pending = await waitFor(
            "the helm upgrade to start (release status pending-upgrade)",
            async () => {
              const status = await k.releaseStatus("api", environmentNamespace("dev"));
              return status?.status === "pending-upgrade" ? status.status : undefined;
            },
            120_000,
          );
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
          await result;
        } finally {
          await k.kubectlOk(["taint", "nodes", ...nodes, "rehearse/full=true:NoSchedule-"]);
        }
        const stuck = await k.releaseStatus("api", environmentNamespace("dev"));
        if (stuck?.status !== "pending-upgrade")
          throw new Error(`after the kill the release is ${JSON.stringify(stuck)}`);
        const found = await recover(ctx, "dev", devVars(head));
        if (found.unlocked !== "true" || found.recovered !== "1") {
          throw new Error(
            `the recovery did not release both the lock and the release: ${JSON.stringify(found)}`,
          );
        }
        const recovered = await deployClean(ctx, "dev", devVars(head));
        const status = await k.releaseStatus("api", environmentNamespace("dev"));
        return `killed while ${pending}; left: the state lock and release ${stuck.status}; the next deploy job: recover-state unlocked=${found.unlocked}, recover-releases recovered=${found.recovered}, cdktf deploy dev: ${note(recovered)}; release ${status?.status}, revision ${status?.version}`;
      },
      (s) => s,
    );
  });
}

const head = (vars: Vars) => vars.GIT_SHA ?? "unknown";

/** A `kubectl edit` of a release's Deployment, found by the nightly drift path. */
async function rehearseDrift(ctx: PlatformContext, vars: Vars): Promise<void> {
  const { steps, commands, ws } = ctx;
  const k = ctx.cluster.clients;
  ctx.differences.use("github-api");
  await steps.run(
    "drift: a kubectl edit of dev's image is reported by the drift path",
    async () => {
      const dep = await releaseDeployment(k, environmentNamespace("dev"), "api");
      const container = dep.spec.template.spec.containers[0]!;
      const edited = `${container.image.replace(/:[^:]+$/, "")}:sha-${"f".repeat(40)}`;
      await k.kubectlOk([
        "set",
        "image",
        `deployment/${dep.metadata.name}`,
        `${container.name}=${edited}`,
        "-n",
        environmentNamespace("dev"),
      ]);
      try {
        const plain = await commands.replan("dev");
        const dir = join(ws.dir, "rehearse-drift");
        await commands.must("npm", ["run", "--silent", "plan:stacks", "--", dir, "dev"], {
          ...vars,
          RELEASE_DRIFT: "1",
        });
        const report = readFileSync(join(dir, "dev.releases.json"), "utf8");
        if (!report.includes(edited)) {
          throw new Error(`the drift report does not show the edited image:\n${report}`);
        }
        // What `npm run delivery -- drift-issue --plans <dir>` posts, short of posting it.
        const issue = planFolderObservation(dir, "https://github.invalid/run", head(vars));
        const tag = edited.slice(edited.lastIndexOf(":"));
        if (issue.state !== "problem" || !issue.body.includes(tag)) {
          throw new Error(
            `the drift issue does not report the edit (state ${issue.state}):\n${issue.body}`,
          );
        }
        const line = issue.body.split("\n").find((l) => l.includes(tag)) ?? "";
        return `terraform plan alone: ${plain.length === 0 ? "no changes (the helm provider does not see it)" : plain.join(", ")}; the drift issue (state ${issue.state}) says: ${line.trim()}`;
      } finally {
        await k.kubectlOk([
          "set",
          "image",
          `deployment/${dep.metadata.name}`,
          `${container.name}=${container.image}`,
          "-n",
          environmentNamespace("dev"),
        ]);
      }
    },
    (s) => s,
  );
}

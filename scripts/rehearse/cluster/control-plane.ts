/**
 * A local Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver (token authentication, RBAC,
 * a generated service-account key), kube-controller-manager, kube-scheduler and kwok, which plays
 * the kubelets. The argument builders are pure and unit-tested; `startControlPlane` runs them.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import {
  CleanupStack,
  freePort,
  RehearsalError,
  startService as startTracked,
  StopWaiting,
  waitFor,
  type Service,
} from "../processes";

/** Where every binary lives (`bash scripts/tools.sh --rehearsal` installs them). */
export interface Binaries {
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubeControllerManager: string;
  readonly kubeScheduler: string;
  readonly kubectl: string;
  readonly kwok: string;
  readonly helm: string;
  /** kwok stage definitions passed with `--config`. */
  readonly kwokStages: readonly string[];
}

/** Ports, files and identities of one control plane. */
export interface ControlPlaneLayout {
  readonly dir: string;
  readonly etcdDataDir: string;
  readonly etcdClientPort: number;
  readonly etcdPeerPort: number;
  readonly apiserverPort: number;
  readonly controllerManagerPort: number;
  readonly schedulerPort: number;
  readonly kwokPort: number;
  readonly serviceAccountPublicKey: string;
  readonly serviceAccountPrivateKey: string;
  readonly tokenFile: string;
  readonly certDir: string;
  /** Bearer tokens per identity. */
  readonly tokens: Readonly<Record<Identity, string>>;
  /** One kubeconfig per identity. */
  readonly kubeconfigs: Readonly<Record<Identity, string>>;
}

/** The identities the control plane authenticates, each with its own static token. */
export const IDENTITIES = {
  admin: { user: "rehearsal-admin", groups: ["system:masters"] },
  controllerManager: { user: "system:kube-controller-manager", groups: [] },
  scheduler: { user: "system:kube-scheduler", groups: [] },
  kwok: { user: "kwok", groups: ["system:masters"] },
} as const;
export type Identity = keyof typeof IDENTITIES;

/** The cluster's Service range (any private range that does not collide with the host). */
export const SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16";
/** The issuer written into service-account tokens (what EKS-style clusters use in-cluster). */
export const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";
/**
 * Admission plugins the rehearsal relies on. They are on by default; naming them makes a server
 * built without one fail at start instead of passing a check it never ran.
 */
export const ADMISSION_PLUGINS = [
  "NamespaceLifecycle",
  "LimitRanger",
  "ServiceAccount",
  "PodSecurity",
  "ResourceQuota",
  "TaintNodesByCondition",
  "DefaultTolerationSeconds",
] as const;

/**
 * Debian's etcd (3.4.23) predates the fix the API server requires before it asks etcd for watch
 * progress, so it cannot serve streaming lists; clients that ask for one (client-go's default) see
 * their watches end and retry with back-off, which delays every controller and kwok by up to a
 * minute. The API server refuses streaming lists outright (`WatchList=false`), so clients fall back
 * to list-and-watch at once; clients are asked not to try (client-go's environment switch, the
 * components' feature gate).
 */
export const CLIENT_ENV: Readonly<Record<string, string>> = {
  KUBE_FEATURE_WatchListClient: "false",
};
const CLIENT_FEATURE_GATES = "--feature-gates=WatchListClient=false";

/** The token file the API server reads: `token,user,uid,"group1,group2"` per line. */
export function tokenFileContents(tokens: Readonly<Record<Identity, string>>): string {
  return (Object.keys(IDENTITIES) as Identity[])
    .map((id) => {
      const { user, groups } = IDENTITIES[id];
      const base = `${tokens[id]},${user},${user}`;
      return groups.length > 0 ? `${base},"${groups.join(",")}"` : base;
    })
    .join("\n")
    .concat("\n");
}

/** A kubeconfig for one identity (TLS verified against the API server's own certificate). */
export function kubeconfigContents(server: string, caFile: string, token: string): string {
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "rehearsal", cluster: { server, "certificate-authority": caFile } }],
      users: [{ name: "rehearsal", user: { token } }],
      contexts: [{ name: "rehearsal", context: { cluster: "rehearsal", user: "rehearsal" } }],
      "current-context": "rehearsal",
    },
    null,
    2,
  );
}

export function etcdArgs(layout: ControlPlaneLayout): string[] {
  const client = `http://127.0.0.1:${layout.etcdClientPort}`;
  const peer = `http://127.0.0.1:${layout.etcdPeerPort}`;
  return [
    "--name=rehearsal",
    `--data-dir=${layout.etcdDataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=rehearsal=${peer}`,
    "--initial-cluster-state=new",
    "--logger=zap",
    "--log-level=warn",
  ];
}

export function apiserverArgs(layout: ControlPlaneLayout): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${layout.etcdClientPort}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    // The lease reconciler refuses a loopback address; no pod talks to the API here, so the
    // `kubernetes` Service needs no endpoints.
    "--endpoint-reconciler-type=none",
    `--secure-port=${layout.apiserverPort}`,
    `--cert-dir=${layout.certDir}`,
    `--token-auth-file=${layout.tokenFile}`,
    "--anonymous-auth=false",
    "--authorization-mode=RBAC",
    `--enable-admission-plugins=${ADMISSION_PLUGINS.join(",")}`,
    "--allow-privileged=false",
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${layout.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${layout.serviceAccountPrivateKey}`,
    "--feature-gates=WatchList=false",
    "--profiling=false",
    "--v=0",
  ];
}

export function controllerManagerArgs(layout: ControlPlaneLayout): string[] {
  const kubeconfig = layout.kubeconfigs.controllerManager;
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${layout.controllerManagerPort}`,
    `--cert-dir=${join(layout.dir, "controller-manager-certs")}`,
    `--service-account-private-key-file=${layout.serviceAccountPrivateKey}`,
    `--root-ca-file=${apiserverCertificate(layout)}`,
    "--use-service-account-credentials=true",
    CLIENT_FEATURE_GATES,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    "--leader-elect=false",
    // Fast node lifecycle: kwok nodes are Ready at once, so their not-ready taint goes quickly.
    "--node-monitor-period=2s",
    "--profiling=false",
    "--v=0",
  ];
}

export function schedulerArgs(layout: ControlPlaneLayout): string[] {
  const kubeconfig = layout.kubeconfigs.scheduler;
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${layout.schedulerPort}`,
    `--cert-dir=${join(layout.dir, "scheduler-certs")}`,
    CLIENT_FEATURE_GATES,
    "--leader-elect=false",
    "--profiling=false",
    "--v=0",
  ];
}

/** The annotation that hands a node to kwok. */
export const KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node";

export function kwokArgs(layout: ControlPlaneLayout, stages: readonly string[]): string[] {
  return [
    `--kubeconfig=${layout.kubeconfigs.kwok}`,
    ...stages.map((file) => `--config=${file}`),
    `--manage-nodes-with-annotation-selector=${KWOK_NODE_ANNOTATION}=fake`,
    `--server-address=127.0.0.1:${layout.kwokPort}`,
    "--node-lease-duration-seconds=40",
  ];
}

export function apiserverCertificate(layout: ControlPlaneLayout): string {
  return join(layout.certDir, "apiserver.crt");
}

export function apiserverUrl(layout: ControlPlaneLayout): string {
  return `https://127.0.0.1:${layout.apiserverPort}`;
}

/** Generates keys, tokens and ports for a control plane rooted at `dir` (kubeconfigs come later). */
export async function planLayout(dir: string, etcdDataDir: string): Promise<ControlPlaneLayout> {
  const tokens = Object.fromEntries(
    (Object.keys(IDENTITIES) as Identity[]).map((id) => [id, randomBytes(24).toString("hex")]),
  ) as Record<Identity, string>;
  const kubeconfigs = Object.fromEntries(
    (Object.keys(IDENTITIES) as Identity[]).map((id) => [id, join(dir, `${id}.kubeconfig`)]),
  ) as Record<Identity, string>;
  const ports: number[] = [];
  while (ports.length < 7) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const [etcdClientPort, etcdPeerPort, apiserverPort, cmPort, schedPort, kwokPort] = ports;
  return {
    dir,
    etcdDataDir,
    etcdClientPort: etcdClientPort!,
    etcdPeerPort: etcdPeerPort!,
    apiserverPort: apiserverPort!,
    controllerManagerPort: cmPort!,
    schedulerPort: schedPort!,
    kwokPort: kwokPort!,
    serviceAccountPublicKey: join(dir, "sa.pub"),
    serviceAccountPrivateKey: join(dir, "sa.key"),
    tokenFile: join(dir, "tokens.csv"),
    certDir: join(dir, "apiserver-certs"),
    tokens,
    kubeconfigs,
  };
}

/** Writes the service-account key pair and the token file. */
export function writeCredentials(layout: ControlPlaneLayout): void {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  writeFileSync(layout.serviceAccountPublicKey, publicKey, { mode: 0o600 });
  writeFileSync(layout.serviceAccountPrivateKey, privateKey, { mode: 0o600 });
  writeFileSync(layout.tokenFile, tokenFileContents(layout.tokens), { mode: 0o600 });
}

function writeKubeconfigs(layout: ControlPlaneLayout): void {
  for (const id of Object.keys(IDENTITIES) as Identity[]) {
    writeFileSync(
      layout.kubeconfigs[id],
      kubeconfigContents(apiserverUrl(layout), apiserverCertificate(layout), layout.tokens[id]),
      { mode: 0o600 },
    );
  }
}

/** GET over HTTPS, trusting only the given CA file, with a bearer token if given. */
export function httpsGet(
  url: string,
  token: string | undefined,
  caFile: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const req = request(url, { ca: readFileSync(caFile), headers, timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.once("timeout", () => req.destroy(new Error(`timeout on ${url}`)));
    req.once("error", reject);
    req.end();
  });
}

/**
 * The checks `/readyz?verbose` reports as failed. The body lists one `[+]name ok` or
 * `[-]name failed: reason` line per check.
 */
export function failedReadyzChecks(body: string): string[] {
  return body
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("[-]"))
    .map((line) => line.slice(3).split(" ")[0]!);
}

/** A component's /healthz, verified against the certificate it generated in its --cert-dir. */
async function componentHealthy(
  port: number,
  layout: ControlPlaneLayout,
  name: "kube-controller-manager" | "kube-scheduler",
): Promise<boolean> {
  const dir = name === "kube-scheduler" ? "scheduler-certs" : "controller-manager-certs";
  const cert = join(layout.dir, dir, `${name}.crt`);
  if (!existsSync(cert)) return false;
  const res = await httpsGet(`https://127.0.0.1:${port}/healthz`, undefined, cert);
  return res.status === 200 && res.body.trim() === "ok";
}

function plainGet(url: string): Promise<{ status: number; body: string }> {
  return fetch(url).then(async (res) => ({ status: res.status, body: await res.text() }));
}

/** A started control plane. */
export interface ControlPlane {
  readonly layout: ControlPlaneLayout;
  readonly services: readonly Service[];
  /** The admin kubeconfig, for kubectl and helm. */
  readonly kubeconfig: string;
  readonly server: string;
}

type Timed = (label: string, run: () => Promise<void>) => Promise<void>;

/** Fails fast, naming the log, if a process dies while the control plane is being started. */
function watchEarlyExit(service: Service, state: { starting: boolean }): void {
  void service.exited.then((code) => {
    if (state.starting) {
      process.stderr.write(
        `${service.name} exited (code ${String(code)}) during start-up; see ${service.logFile}\n`,
      );
    }
  });
}

async function waitHealthy(
  service: Service,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  let dead = false;
  void service.exited.then(() => (dead = true));
  await waitFor(
    what,
    async () => {
      if (dead) {
        const tail = readFileSync(service.logFile, "utf8").split("\n").slice(-15).join("\n");
        throw new StopWaiting(`${service.name} exited while starting; last log lines:\n${tail}`);
      }
      return (await probe()) ? true : undefined;
    },
    timeoutMs,
  ).catch((error: unknown) => {
    if (error instanceof StopWaiting) throw error;
    throw new RehearsalError(
      `${error instanceof Error ? error.message : String(error)} (log: ${service.logFile})`,
    );
  });
}

/** Starts etcd, the API server, the controller manager, the scheduler and kwok, in that order. */
async function startAll(
  bin: Binaries,
  layout: ControlPlaneLayout,
  step: Timed,
  state: { starting: boolean },
  cleanup: CleanupStack,
): Promise<ControlPlane> {
  const startService = (
    name: string,
    command: string,
    args: readonly string[],
    logFile: string,
    options: { env?: NodeJS.ProcessEnv } = {},
  ): Service => startTracked(cleanup, name, command, args, logFile, options);
  mkdirSync(layout.certDir, { recursive: true });
  mkdirSync(layout.etcdDataDir, { recursive: true });
  writeCredentials(layout);
  const logs = join(layout.dir, "logs");
  mkdirSync(logs, { recursive: true });
  const services: Service[] = [];
  const server = apiserverUrl(layout);
  const ca = apiserverCertificate(layout);
  const adminToken = layout.tokens.admin;
  const env = { ...process.env, ...CLIENT_ENV };

  await step("etcd", async () => {
    const etcd = startService("etcd", bin.etcd, etcdArgs(layout), join(logs, "etcd.log"), { env });
    services.push(etcd);
    watchEarlyExit(etcd, state);
    await waitHealthy(
      etcd,
      "etcd /health",
      async () =>
        (await plainGet(`http://127.0.0.1:${layout.etcdClientPort}/health`)).body.includes(
          '"health":"true"',
        ),
      30_000,
    );
  });

  await step("kube-apiserver", async () => {
    const apiserver = startService(
      "kube-apiserver",
      bin.kubeApiserver,
      apiserverArgs(layout),
      join(logs, "kube-apiserver.log"),
      { env },
    );
    services.push(apiserver);
    watchEarlyExit(apiserver, state);
    await waitHealthy(
      apiserver,
      "kube-apiserver /readyz",
      async () => {
        if (!existsSync(ca)) return false;
        const res = await httpsGet(`${server}/readyz?verbose`, adminToken, ca);
        return res.status === 200 && failedReadyzChecks(res.body).length === 0;
      },
      120_000,
    );
    writeKubeconfigs(layout);
  });

  await step("kube-controller-manager and kube-scheduler", async () => {
    const cm = startService(
      "kube-controller-manager",
      bin.kubeControllerManager,
      controllerManagerArgs(layout),
      join(logs, "kube-controller-manager.log"),
      { env },
    );
    const scheduler = startService(
      "kube-scheduler",
      bin.kubeScheduler,
      schedulerArgs(layout),
      join(logs, "kube-scheduler.log"),
      { env },
    );
    services.push(cm, scheduler);
    watchEarlyExit(cm, state);
    watchEarlyExit(scheduler, state);
    // Each serves /healthz over TLS with a certificate it generated into its --cert-dir.
    await waitHealthy(
      cm,
      "kube-controller-manager /healthz",
      () => componentHealthy(layout.controllerManagerPort, layout, "kube-controller-manager"),
      90_000,
    );
    await waitHealthy(
      scheduler,
      "kube-scheduler /healthz",
      () => componentHealthy(layout.schedulerPort, layout, "kube-scheduler"),
      60_000,
    );
  });

  await step("kwok", async () => {
    const kwok = startService(
      "kwok",
      bin.kwok,
      kwokArgs(layout, bin.kwokStages),
      join(logs, "kwok.log"),
      { env },
    );
    services.push(kwok);
    watchEarlyExit(kwok, state);
    await waitHealthy(
      kwok,
      "kwok /healthz",
      async () => (await plainGet(`http://127.0.0.1:${layout.kwokPort}/healthz`)).status === 200,
      60_000,
    );
  });

  state.starting = false;
  return { layout, services, kubeconfig: layout.kubeconfigs.admin, server };
}

/** Starts the control plane; a failure stops reporting early exits (clean-up stops them all). */
export async function startControlPlane(
  bin: Binaries,
  layout: ControlPlaneLayout,
  step: Timed,
  cleanup: CleanupStack,
): Promise<ControlPlane> {
  const state = { starting: true };
  try {
    return await startAll(bin, layout, step, state, cleanup);
  } finally {
    state.starting = false;
  }
}

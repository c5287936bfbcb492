/**
 * The Helm releases of one synthesized environment stack (`cdktf.out/stacks/<env>/cdk.tf.json`), and
 * two things the Helm provider does not do for them:
 *
 * - **Recovery** before a deploy. A deploy killed in the middle of `helm upgrade` leaves the release's
 *   latest revision `pending-upgrade` (or `pending-install`, `pending-rollback`), and every later
 *   `cdktf deploy` fails with "another operation (install/upgrade/rollback) is in progress"
 *   (hashicorp/terraform-provider-helm#398, helm/helm#7476). Helm 3.19's upgrade refuses a pending
 *   latest revision, but its rollback does not check the status: it takes the pending revision as the
 *   current one and writes a new revision from the target's manifest, then supersedes every other
 *   deployed revision (pkg/action/rollback.go). So {@link recoverReleases} rolls back to the newest
 *   revision that was `deployed` or `superseded`, and uninstalls a release that never had one.
 * - **Live drift**. The provider compares the release's values, not the objects in the cluster, so a
 *   `kubectl edit` of a Deployment goes unseen (hashicorp/terraform-provider-helm#372).
 *   {@link releaseDrift} compares every value the rendered manifest (`helm get manifest`) sets with
 *   the live object.
 *
 * The helm and kubectl processes are behind {@link ClusterTools}, so tests use fakes.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { DeliveryError } from "./errors";

/** One `helm_release` of a synthesized stack, with its namespace resolved to a name. */
export interface StackRelease {
  /** The stack, e.g. `dev`. */
  readonly stack: string;
  /** Terraform address, e.g. `helm_release.Api_Release_C73DB1C1`. */
  readonly address: string;
  /** The Helm release name. */
  readonly name: string;
  readonly namespace: string;
  /** The release's `timeout` in seconds (the provider's default, 300, when not set). */
  readonly timeoutSeconds: number;
}

/** The Helm provider's default `timeout` of a release, in seconds. */
export const DEFAULT_RELEASE_TIMEOUT_SECONDS = 300;

const STACK_NAME = /^[a-z0-9_-]+$/;
const NAMESPACE_REFERENCE =
  /^\$\{kubernetes_namespace_v1\.([A-Za-z0-9_-]+)\.metadata(?:\[0\]|\.0)\.name\}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isLiteral(value: unknown): value is string {
  return typeof value === "string" && value !== "" && !value.includes("${");
}

/** The synthesized stack file of `stack` under `outdir` (`<outdir>/stacks/<stack>/cdk.tf.json`). */
export function stackFile(outdir: string, stack: string): string {
  if (!STACK_NAME.test(stack)) {
    throw new DeliveryError(`stack name ${JSON.stringify(stack)} must match [a-z0-9_-]+.`, 2);
  }
  return join(outdir, "stacks", stack, "cdk.tf.json");
}

/**
 * The Helm releases of a synthesized stack. A release's namespace is either a literal name or a
 * reference to a `kubernetes_namespace_v1` of the same stack, resolved to that resource's
 * `metadata.name`; anything else is an error naming the release.
 */
export function stackReleases(stack: string, document: unknown): StackRelease[] {
  const resources = isRecord(document) && isRecord(document.resource) ? document.resource : {};
  const releases = isRecord(resources.helm_release) ? resources.helm_release : {};
  const namespaces = isRecord(resources.kubernetes_namespace_v1)
    ? resources.kubernetes_namespace_v1
    : {};
  return Object.entries(releases).map(([id, body]) => {
    const address = `helm_release.${id}`;
    const attributes = isRecord(body) ? body : {};
    if (!isLiteral(attributes.name)) {
      throw new DeliveryError(
        `${stack}: ${address} has name ${JSON.stringify(attributes.name)}; only a literal release ` +
          "name can be looked up in the cluster before the apply. Give the release a literal name.",
      );
    }
    const timeout = attributes.timeout;
    return {
      stack,
      address,
      name: attributes.name,
      namespace: releaseNamespace(stack, address, attributes.namespace, namespaces),
      timeoutSeconds:
        typeof timeout === "number" && Number.isInteger(timeout) && timeout > 0
          ? timeout
          : DEFAULT_RELEASE_TIMEOUT_SECONDS,
    };
  });
}

function releaseNamespace(
  stack: string,
  address: string,
  value: unknown,
  namespaces: Record<string, unknown>,
): string {
  // The provider installs into "default" when the attribute is not set.
  if (value === undefined) return "default";
  if (isLiteral(value)) return value;
  const reference = typeof value === "string" ? NAMESPACE_REFERENCE.exec(value) : null;
  if (reference) {
    const resource = namespaces[reference[1]!];
    const metadata = isRecord(resource)
      ? Array.isArray(resource.metadata)
        ? (resource.metadata[0] as unknown)
        : resource.metadata
      : undefined;
    const name = isRecord(metadata) ? metadata.name : undefined;
    if (isLiteral(name)) return name;
    throw new DeliveryError(
      `${stack}: ${address} has namespace ${value}, but ` +
        (resource === undefined
          ? `the stack has no kubernetes_namespace_v1.${reference[1]}`
          : `kubernetes_namespace_v1.${reference[1]} has metadata.name ${JSON.stringify(name)}, not a literal name`) +
        ". Give the namespace a literal name in the same stack.",
    );
  }
  throw new DeliveryError(
    `${stack}: ${address} has namespace ${JSON.stringify(value)}: expected a literal name or ` +
      "${kubernetes_namespace_v1.<id>.metadata[0].name} of the same stack. Give the release a " +
      "literal namespace, or create its namespace with kubernetes_namespace_v1 in this stack.",
  );
}

/** Reads `<outdir>/stacks/<stack>/cdk.tf.json` and returns its Helm releases. */
export function readStackReleases(outdir: string, stack: string): StackRelease[] {
  const file = stackFile(outdir, stack);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new DeliveryError(
      `cannot read the synthesized stack ${file} (${(error as Error).message.split("\n")[0]}): ` +
        `run npm run synth first, or pass the synth folder with --outdir.`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new DeliveryError(`${file} is not JSON: ${(error as Error).message}`);
  }
  return stackReleases(stack, document);
}

// --- processes -----------------------------------------------------------------------------------

/** What a finished process printed and how it exited. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The helm and kubectl command lines, run against whatever cluster KUBECONFIG names. */
export interface ClusterTools {
  helm(args: readonly string[]): Promise<CommandResult>;
  kubectl(args: readonly string[]): Promise<CommandResult>;
}

function runProcess(
  command: string,
  variable: string,
  args: readonly string[],
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) =>
      reject(
        new DeliveryError(
          `cannot run ${command}: ${error.message}. Install it on PATH, or point ${variable} at it.`,
        ),
      ),
    );
    child.on("close", (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8") + (signal ? `(killed by ${signal})` : ""),
      }),
    );
  });
}

/** The real CLIs: `HELM_BIN` / `KUBECTL_BIN` from `env`, else `helm` / `kubectl` on PATH. */
export function processTools(env: NodeJS.ProcessEnv = process.env): ClusterTools {
  const helm = env.HELM_BIN || "helm";
  const kubectl = env.KUBECTL_BIN || "kubectl";
  return {
    helm: (args) => runProcess(helm, "HELM_BIN", args),
    kubectl: (args) => runProcess(kubectl, "KUBECTL_BIN", args),
  };
}

function firstLines(text: string, max = 5): string {
  const lines = text.trim().split("\n").filter(Boolean);
  return lines.slice(0, max).join("\n") || "(no output)";
}

const RELEASE_NOT_FOUND = /release: not found/;

// --- recovery ------------------------------------------------------------------------------------

/** One revision of `helm history -o json`. */
export interface HelmRevision {
  readonly revision: number;
  readonly status: string;
}

/** The statuses Helm treats as "another operation is in progress". */
export const PENDING_STATUSES: readonly string[] = [
  "pending-install",
  "pending-upgrade",
  "pending-rollback",
];

/** The statuses of a revision that was running in the cluster, and so is safe to go back to. */
export const GOOD_STATUSES: readonly string[] = ["deployed", "superseded"];

/** What {@link recoveryAction} decided for one release. */
export type RecoveryAction =
  | { readonly kind: "not-installed" }
  | { readonly kind: "leave"; readonly latest: HelmRevision }
  | { readonly kind: "rollback"; readonly latest: HelmRevision; readonly to: HelmRevision }
  | { readonly kind: "uninstall"; readonly latest: HelmRevision };

/** Parses `helm history <name> -o json` (an array of revisions); throws naming the release. */
export function parseHistory(release: StackRelease, text: string): HelmRevision[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DeliveryError(
      `${describe(release)}: helm history printed something that is not JSON: ${firstLines(text, 2)}`,
    );
  }
  if (!Array.isArray(parsed)) {
    throw new DeliveryError(`${describe(release)}: helm history -o json did not print an array.`);
  }
  return parsed
    .map((entry: unknown) => {
      if (
        !isRecord(entry) ||
        typeof entry.revision !== "number" ||
        typeof entry.status !== "string"
      ) {
        throw new DeliveryError(
          `${describe(release)}: helm history entry ${JSON.stringify(entry)} has no numeric ` +
            "revision and string status.",
        );
      }
      return { revision: entry.revision, status: entry.status };
    })
    .sort((a, b) => a.revision - b.revision);
}

/**
 * Decides how to recover a release from its history: nothing unless the latest revision is
 * pending; then a rollback to the newest earlier `deployed` or `superseded` revision, or, when no
 * such revision exists (a first install that was killed), an uninstall.
 */
export function recoveryAction(history: readonly HelmRevision[]): RecoveryAction {
  const sorted = [...history].sort((a, b) => a.revision - b.revision);
  const latest = sorted.at(-1);
  if (!latest) return { kind: "not-installed" };
  if (!PENDING_STATUSES.includes(latest.status)) return { kind: "leave", latest };
  const good = sorted
    .slice(0, -1)
    .filter((r) => GOOD_STATUSES.includes(r.status))
    .at(-1);
  return good ? { kind: "rollback", latest, to: good } : { kind: "uninstall", latest };
}

/** The outcome of {@link recoverReleases} for one release. */
export interface RecoveryResult {
  readonly release: StackRelease;
  readonly action: RecoveryAction;
  /** Whether a rollback or uninstall ran and succeeded. */
  readonly recovered: boolean;
  /** helm's message when the rollback or uninstall failed. */
  readonly error?: string;
}

function describe(release: StackRelease): string {
  return `${release.stack}: ${release.name} (namespace ${release.namespace}, ${release.address})`;
}

/**
 * Reads each release's history and rolls back or uninstalls the ones left pending. Every release
 * is attempted; when any recovery fails the error names each failed release with helm's message.
 * `log` gets one line per release saying what was found and done.
 */
export async function recoverReleases(
  releases: readonly StackRelease[],
  tools: ClusterTools,
  log: (line: string) => void,
): Promise<RecoveryResult[]> {
  const results: RecoveryResult[] = [];
  for (const release of releases) {
    const history = await tools.helm([
      "history",
      release.name,
      "--namespace",
      release.namespace,
      "--output",
      "json",
    ]);
    let action: RecoveryAction;
    if (history.code !== 0) {
      if (!RELEASE_NOT_FOUND.test(history.stderr)) {
        throw new DeliveryError(
          `${describe(release)}: helm history failed: ${firstLines(history.stderr)}\n` +
            "Check that KUBECONFIG points at the cluster and that this identity may read the " +
            "namespace's Secrets (Helm keeps its releases there).",
        );
      }
      action = { kind: "not-installed" };
    } else {
      action = recoveryAction(parseHistory(release, history.stdout));
    }
    const timeout = `${release.timeoutSeconds}s`;
    let outcome: CommandResult | undefined;
    switch (action.kind) {
      case "not-installed":
        log(`${describe(release)}: not installed yet, nothing to recover`);
        break;
      case "leave":
        log(
          `${describe(release)}: revision ${action.latest.revision} is ${action.latest.status}, left alone`,
        );
        break;
      case "rollback":
        log(
          `${describe(release)}: revision ${action.latest.revision} is ${action.latest.status} ` +
            `(a deploy was interrupted); rolling back to revision ${action.to.revision} (${action.to.status})`,
        );
        outcome = await tools.helm([
          "rollback",
          release.name,
          String(action.to.revision),
          "--namespace",
          release.namespace,
          "--wait",
          "--timeout",
          timeout,
        ]);
        break;
      case "uninstall":
        log(
          `${describe(release)}: revision ${action.latest.revision} is ${action.latest.status} ` +
            "with no earlier deployed revision (an install was interrupted); uninstalling it",
        );
        outcome = await tools.helm([
          "uninstall",
          release.name,
          "--namespace",
          release.namespace,
          "--wait",
          "--timeout",
          timeout,
        ]);
        break;
    }
    if (outcome === undefined) {
      results.push({ release, action, recovered: false });
    } else if (outcome.code === 0) {
      log(`${describe(release)}: ${action.kind === "rollback" ? "rolled back" : "uninstalled"}`);
      results.push({ release, action, recovered: true });
    } else {
      const error = firstLines(outcome.stderr || outcome.stdout);
      log(`${describe(release)}: helm ${action.kind} failed: ${error}`);
      results.push({ release, action, recovered: false, error });
    }
  }
  const failed = results.filter((r) => r.error !== undefined);
  if (failed.length > 0) {
    throw new DeliveryError(
      failed
        .map(
          (r) =>
            `${describe(r.release)}: helm ${r.action.kind} failed: ${r.error}\n` +
            `Look at helm history ${r.release.name} -n ${r.release.namespace} and the namespace's ` +
            "events, fix the cause, and run recover-releases again before deploying.",
        )
        .join("\n"),
    );
  }
  return results;
}

// --- live drift ----------------------------------------------------------------------------------

/** One value the rendered manifest sets that the live object does not have. */
export interface ReleaseDifference {
  readonly stack: string;
  readonly release: string;
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  /**
   * Where the value is, e.g. `spec.template.spec.containers[name=api].image` (named list items by
   * name, others by index); {@link MISSING_OBJECT_PATH} when the whole object is missing.
   */
  readonly path: string;
  /** The rendered value (`"present"` for a missing object). */
  readonly rendered: unknown;
  /** The live value; `null` when the live object does not have it (or does not exist). */
  readonly live: unknown;
}

/** The path of the difference reported for an object that is not in the cluster. */
export const MISSING_OBJECT_PATH = "(object)";

/** One release that was compared. */
export interface CheckedRelease {
  readonly release: string;
  readonly namespace: string;
  /** Objects in its manifest; `null` when the release is not installed. */
  readonly objects: number | null;
}

/** The result of {@link releaseDrift} for one stack, as written to `--out`. */
export interface ReleaseDriftReport {
  readonly stack: string;
  readonly releases: readonly CheckedRelease[];
  readonly differences: readonly ReleaseDifference[];
}

/** An object of a rendered manifest. */
export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** `metadata.namespace`, when the manifest sets it. */
  readonly namespace?: string;
  readonly body: Record<string, unknown>;
}

/** Parses `helm get manifest` output (YAML documents) into its objects; throws naming the release. */
export function parseManifest(release: StackRelease, text: string): ManifestObject[] {
  const objects: ManifestObject[] = [];
  for (const [index, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length > 0) {
      throw new DeliveryError(
        `${describe(release)}: document ${index + 1} of its manifest is not valid YAML: ` +
          doc.errors[0]!.message,
      );
    }
    const body: unknown = doc.toJS();
    if (body === null || body === undefined) continue;
    const metadata = isRecord(body) && isRecord(body.metadata) ? body.metadata : {};
    if (
      !isRecord(body) ||
      typeof body.apiVersion !== "string" ||
      typeof body.kind !== "string" ||
      typeof metadata.name !== "string"
    ) {
      throw new DeliveryError(
        `${describe(release)}: document ${index + 1} of its manifest has no apiVersion, kind and ` +
          "metadata.name; is this a Kubernetes manifest?",
      );
    }
    objects.push({
      apiVersion: body.apiVersion,
      kind: body.kind,
      name: metadata.name,
      ...(typeof metadata.namespace === "string" ? { namespace: metadata.namespace } : {}),
      body,
    });
  }
  return objects;
}

/** Kinds that have no namespace (`kubectl get` without `-n`). */
export const CLUSTER_SCOPED_KINDS: readonly string[] = [
  "APIService",
  "CertificateSigningRequest",
  "ClusterRole",
  "ClusterRoleBinding",
  "CSIDriver",
  "CSINode",
  "CustomResourceDefinition",
  "FlowSchema",
  "IngressClass",
  "MutatingWebhookConfiguration",
  "Namespace",
  "Node",
  "PersistentVolume",
  "PriorityClass",
  "PriorityLevelConfiguration",
  "RuntimeClass",
  "StorageClass",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
  "ValidatingWebhookConfiguration",
  "VolumeAttachment",
];

/**
 * The `kubectl get` arguments of an object: `<Kind>.<version>.<group>/<name>` (the rendered API
 * version, so the live object is read in the same version), `-n` unless the kind is cluster-scoped.
 */
export function kubectlGetArgs(object: ManifestObject, releaseNamespace: string): string[] {
  const [group, version] = object.apiVersion.includes("/")
    ? object.apiVersion.split("/", 2)
    : ["", object.apiVersion];
  const resource = group ? `${object.kind}.${version}.${group}` : object.kind;
  const args = ["get", `${resource}/${object.name}`, "--output", "json"];
  if (!CLUSTER_SCOPED_KINDS.includes(object.kind))
    args.push("--namespace", object.namespace ?? releaseNamespace);
  return args;
}

/** `kind/name` pairs whose `spec.replicas` a rendered HorizontalPodAutoscaler owns. */
export function autoscaledTargets(objects: readonly ManifestObject[]): Set<string> {
  const targets = new Set<string>();
  for (const object of objects) {
    if (object.kind !== "HorizontalPodAutoscaler") continue;
    const spec = isRecord(object.body.spec) ? object.body.spec : {};
    const target = isRecord(spec.scaleTargetRef) ? spec.scaleTargetRef : {};
    if (typeof target.kind === "string" && typeof target.name === "string")
      targets.add(`${target.kind}/${target.name}`);
  }
  return targets;
}

/** The zero values the API server omits (`omitempty`): absent live is the same as these. */
function isZero(value: unknown): boolean {
  return (
    value === "" ||
    value === 0 ||
    value === false ||
    (Array.isArray(value) && value.length === 0) ||
    (isRecord(value) && Object.keys(value).length === 0)
  );
}

const QUANTITY =
  /^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;
const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

function quantity(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return undefined;
  const match = QUANTITY.exec(value);
  return match ? Number(match[1]) * (match[2] ? SUFFIX[match[2]]! : 1) : undefined;
}

/** Fields the API server stores as canonical quantities (`0.5` becomes `500m`). */
const QUANTITY_PATH =
  /(?:^|\.)(?:limits|requests|hard|default|defaultRequest|max|min)\.[^.]+$|(?:^|\.)sizeLimit$/;

function sameLeaf(path: string, rendered: unknown, live: unknown): boolean {
  if (rendered === live) return true;
  if (live === undefined || live === null) return isZero(rendered);
  if (QUANTITY_PATH.test(path)) {
    const a = quantity(rendered);
    const b = quantity(live);
    if (a !== undefined && b !== undefined)
      return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1);
  }
  return false;
}

function childPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** Items with a unique string `name` each, as containers, env and ports are. */
function namedItems(list: readonly unknown[]): Map<string, unknown> | undefined {
  const names = new Map<string, unknown>();
  for (const item of list) {
    if (!isRecord(item) || typeof item.name !== "string" || names.has(item.name)) return undefined;
    names.set(item.name, item);
  }
  return names.size > 0 ? names : undefined;
}

/**
 * Every leaf the rendered value sets, compared with the live value at the same path: a subset
 * comparison, so fields the server adds (defaults, status, managed fields) are not drift, and a
 * zero value the server omits is not either. Lists of items with unique names are matched by name
 * (`[name=api]`), other lists by index. A subtree the live object lacks is one difference.
 */
export function compareValues(
  rendered: unknown,
  live: unknown,
  path = "",
  skip: (path: string) => boolean = () => false,
): Array<{ path: string; rendered: unknown; live: unknown }> {
  if (skip(path) || rendered === null || rendered === undefined) return [];
  const differences: Array<{ path: string; rendered: unknown; live: unknown }> = [];
  const whole = [{ path, rendered, live: live ?? null }];
  if (isRecord(rendered)) {
    if (isZero(rendered)) return [];
    if (!isRecord(live)) return whole;
    for (const [key, value] of Object.entries(rendered))
      differences.push(...compareValues(value, live[key], childPath(path, key), skip));
  } else if (Array.isArray(rendered)) {
    if (rendered.length === 0) return [];
    if (!Array.isArray(live)) return whole;
    const named = namedItems(rendered);
    const liveNamed = named && namedItems(live);
    if (named && liveNamed) {
      for (const [name, item] of named)
        differences.push(
          ...compareValues(item, liveNamed.get(name), `${path}[name=${name}]`, skip),
        );
    } else {
      rendered.forEach((item, i) =>
        differences.push(...compareValues(item, live[i], `${path}[${i}]`, skip)),
      );
    }
  } else if (!sameLeaf(path, rendered, live)) {
    return whole;
  }
  return differences;
}

/** A Secret's `stringData` as the API server stores it: base64 under `data`. */
function normalizeRendered(object: ManifestObject): Record<string, unknown> {
  const body = object.body;
  if (object.kind !== "Secret" || object.apiVersion !== "v1" || !isRecord(body.stringData))
    return body;
  const data = isRecord(body.data) ? { ...body.data } : {};
  for (const [key, value] of Object.entries(body.stringData))
    if (typeof value === "string") data[key] = Buffer.from(value, "utf8").toString("base64");
  const normalized: Record<string, unknown> = { ...body, data };
  delete normalized.stringData;
  return normalized;
}

const NOT_FOUND = /\(NotFound\)/;

/**
 * Compares every object each release renders with the live object. A missing live object is one
 * difference ({@link MISSING_OBJECT_PATH}). A Deployment's (or other target's) `spec.replicas` is
 * skipped when the release renders a HorizontalPodAutoscaler that scales it. A release that is not
 * installed is logged and left to the terraform plan, which shows it as a create. Throws only when
 * helm or kubectl cannot answer.
 */
export async function releaseDrift(
  stack: string,
  releases: readonly StackRelease[],
  tools: ClusterTools,
  log: (line: string) => void = () => {},
): Promise<ReleaseDriftReport> {
  const checked: CheckedRelease[] = [];
  const differences: ReleaseDifference[] = [];
  for (const release of releases) {
    const manifest = await tools.helm([
      "get",
      "manifest",
      release.name,
      "--namespace",
      release.namespace,
    ]);
    if (manifest.code !== 0) {
      if (RELEASE_NOT_FOUND.test(manifest.stderr)) {
        log(`${describe(release)}: not installed, nothing to compare (the plan shows it)`);
        checked.push({ release: release.name, namespace: release.namespace, objects: null });
        continue;
      }
      throw new DeliveryError(
        `${describe(release)}: helm get manifest failed: ${firstLines(manifest.stderr)}\n` +
          "Check that KUBECONFIG points at the cluster and that this identity may read the " +
          "namespace's Secrets.",
      );
    }
    const objects = parseManifest(release, manifest.stdout);
    const autoscaled = autoscaledTargets(objects);
    const found: ReleaseDifference[] = [];
    for (const object of objects) {
      const where = {
        stack,
        release: release.name,
        namespace: object.namespace ?? release.namespace,
        kind: object.kind,
        name: object.name,
      };
      const live = await tools.kubectl(kubectlGetArgs(object, release.namespace));
      if (live.code !== 0) {
        if (NOT_FOUND.test(live.stderr)) {
          found.push({ ...where, path: MISSING_OBJECT_PATH, rendered: "present", live: null });
          continue;
        }
        throw new DeliveryError(
          `${describe(release)}: kubectl ${kubectlGetArgs(object, release.namespace).join(" ")} ` +
            `failed: ${firstLines(live.stderr)}\nCheck KUBECONFIG and that this identity may read ` +
            `${object.kind} objects.`,
        );
      }
      let liveBody: unknown;
      try {
        liveBody = JSON.parse(live.stdout);
      } catch {
        throw new DeliveryError(
          `${describe(release)}: kubectl get ${object.kind}/${object.name} did not print JSON.`,
        );
      }
      const skipReplicas = autoscaled.has(`${object.kind}/${object.name}`);
      for (const difference of compareValues(
        normalizeRendered(object),
        liveBody,
        "",
        (path) => skipReplicas && path === "spec.replicas",
      )) {
        found.push({ ...where, ...difference });
      }
    }
    log(
      found.length === 0
        ? `${describe(release)}: ${objects.length} objects match the rendered manifest`
        : `${describe(release)}: ${found.length} live difference(s) in ${objects.length} objects`,
    );
    for (const d of found) log(`  ${formatDifference(d)}`);
    checked.push({ release: release.name, namespace: release.namespace, objects: objects.length });
    differences.push(...found);
  }
  return { stack, releases: checked, differences };
}

/** One line for a difference: `Deployment/api spec.replicas: rendered 2, live 5`. */
export function formatDifference(d: ReleaseDifference): string {
  if (d.path === MISSING_OBJECT_PATH)
    return `${d.kind}/${d.name} (namespace ${d.namespace}): missing from the cluster`;
  const show = (v: unknown) => (v === null || v === undefined ? "(absent)" : JSON.stringify(v));
  return `${d.kind}/${d.name} ${d.path}: rendered ${show(d.rendered)}, live ${show(d.live)}`;
}

/** The last line of the release-drift log: how many differences in how many releases. */
export function driftSummary(report: ReleaseDriftReport): string {
  const releases = report.releases.map((r) => r.release).join(", ") || "none";
  return report.differences.length === 0
    ? `${report.stack}: no live drift (releases: ${releases})`
    : `${report.stack}: ${report.differences.length} live difference(s) (releases: ${releases})`;
}

/** Reads a `<stack>.releases.json` written by `release-drift --out`; throws naming the file. */
export function parseReleaseDriftReport(file: string, text: string): ReleaseDriftReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DeliveryError(`${file} is not JSON: ${(error as Error).message}`);
  }
  const valid =
    isRecord(parsed) &&
    typeof parsed.stack === "string" &&
    Array.isArray(parsed.releases) &&
    Array.isArray(parsed.differences) &&
    parsed.differences.every(
      (d: unknown) =>
        isRecord(d) &&
        ["stack", "release", "namespace", "kind", "name", "path"].every(
          (key) => typeof d[key] === "string",
        ),
    );
  if (!valid) {
    throw new DeliveryError(
      `${file} is not a release-drift report ({stack, releases, differences: [{stack, release, ` +
        "namespace, kind, name, path, rendered, live}]}); was it written by release-drift --out?",
    );
  }
  return parsed as unknown as ReleaseDriftReport;
}

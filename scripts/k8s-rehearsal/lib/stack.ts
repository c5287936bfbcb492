/**
 * Reads what the stacks synthesized (`cdktf.out/stacks/<stack>/cdk.tf.json`): the node groups of
 * `shared`, and every Kubernetes namespace, ResourceQuota, LimitRange and Helm release of an
 * application stack. The rehearsal keeps no second copy of these settings.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { RehearsalError } from "./processes";

/** The parts of a synthesized Terraform JSON document the rehearsal reads. */
export interface StackJson {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly provider?: Record<string, unknown>;
  readonly output?: Record<string, { value?: unknown }>;
}

/** A stack's JSON and the folder it was synthesized into (relative paths resolve from there). */
export interface Stack {
  readonly name: string;
  readonly dir: string;
  readonly json: StackJson;
}

export function stackDir(outDir: string, name: string): string {
  return join(outDir, "stacks", name);
}

/** Reads `<outDir>/stacks/<name>/cdk.tf.json`, with a message that says how to produce it. */
export function readStack(outDir: string, name: string): Stack {
  const dir = stackDir(outDir, name);
  const file = join(dir, "cdk.tf.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new RehearsalError(
      `${file} not found: run \`npm run synth\` first (it writes every stack to cdktf.out/stacks/<stack>/cdk.tf.json).`,
    );
  }
  return { name, dir, json: JSON.parse(text) as StackJson };
}

/** cdktf writes a single nested block as an object, Terraform JSON also allows a one-item list. */
export function block(value: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(value)) return value.length > 0 ? block(value[0]) : undefined;
  return value !== null && typeof value === "object"
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Repeated nested blocks: a list, or one object standing for a list of one. */
export function blocks(value: unknown): Record<string, unknown>[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map((v) => block(v)).filter((v) => v !== undefined);
  const one = block(value);
  return one ? [one] : [];
}

/** Every resource of one type, with its address (`type.id`). */
export function resourcesOfType(
  json: StackJson,
  type: string,
): { address: string; id: string; attrs: Record<string, unknown> }[] {
  return Object.entries(json.resource?.[type] ?? {}).map(([id, attrs]) => ({
    address: `${type}.${id}`,
    id,
    attrs,
  }));
}

const WHOLE_REFERENCE = /^\$\{([a-zA-Z_][\w-]*)\.([\w-]+)\.([^}]+)\}$/;

/**
 * Resolves a whole-string reference to another resource of the same stack
 * (`${kubernetes_namespace_v1.api.metadata[0].name}`, `.id` of a namespace) to the value that
 * resource was configured with. Literals pass through; anything else is an error naming it.
 */
export function resolveReference(json: StackJson, value: unknown, where: string): unknown {
  if (typeof value !== "string" || !value.includes("${")) return value;
  const match = WHOLE_REFERENCE.exec(value);
  const target = match ? json.resource?.[match[1]!]?.[match[2]!] : undefined;
  if (!match || !target) {
    throw new RehearsalError(
      `${where}: cannot resolve ${value} from the synthesized JSON alone (only references to another resource's configured values in the same stack can be rehearsed)`,
    );
  }
  let path = match[3]!;
  if (path === "id" && match[1]!.startsWith("kubernetes_namespace")) path = "metadata[0].name";
  let current: unknown = target;
  for (const part of path.split(".")) {
    const indexed = /^([\w-]+)((?:\[\d+\])*)$/.exec(part);
    if (!indexed) {
      throw new RehearsalError(`${where}: cannot follow ${value} (at "${part}")`);
    }
    current = (current as Record<string, unknown> | undefined)?.[indexed[1]!];
    for (const index of indexed[2]!.match(/\d+/g) ?? []) {
      // A single nested block written as an object stands for a list of one.
      current = Array.isArray(current)
        ? current[Number(index)]
        : index === "0"
          ? current
          : undefined;
    }
  }
  if (current === undefined) throw new RehearsalError(`${where}: ${value} has no value`);
  return resolveReference(json, current, where);
}

// --- node groups (shared) ----------------------------------------------------------------------

/** A fake node group: what kwok nodes to create for one `aws_eks_node_group`. */
export interface NodeGroup {
  readonly address: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly { key: string; value?: string; effect: string }[];
  readonly desiredSize: number;
  readonly instanceTypes: readonly string[];
  readonly capacityType: string;
}

const TAINT_EFFECTS: Record<string, string> = {
  NO_SCHEDULE: "NoSchedule",
  NO_EXECUTE: "NoExecute",
  PREFER_NO_SCHEDULE: "PreferNoSchedule",
};

function literalString(value: unknown, where: string): string {
  if (typeof value !== "string" || value.includes("${")) {
    throw new RehearsalError(
      `${where} must be a literal string in the synthesized JSON, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** The node groups `shared` declares, with their labels, taints and desired sizes. */
export function nodeGroups(shared: Stack): NodeGroup[] {
  const groups = resourcesOfType(shared.json, "aws_eks_node_group").map(({ address, attrs }) => {
    const scaling = block(attrs.scaling_config);
    const desired = Number(scaling?.desired_size);
    if (!Number.isInteger(desired) || desired < 0) {
      throw new RehearsalError(`${address}.scaling_config.desired_size must be a whole number`);
    }
    const labels: Record<string, string> = {};
    for (const [key, value] of Object.entries(block(attrs.labels) ?? {})) {
      labels[key] = literalString(value, `${address}.labels.${key}`);
    }
    const taints = blocks(attrs.taint).map((taint, i) => {
      const effect = TAINT_EFFECTS[String(taint.effect)];
      if (!effect)
        throw new RehearsalError(`${address}.taint[${i}].effect is ${String(taint.effect)}`);
      return {
        key: literalString(taint.key, `${address}.taint[${i}].key`),
        ...(taint.value === undefined
          ? {}
          : { value: literalString(taint.value, `${address}.taint[${i}].value`) }),
        effect,
      };
    });
    const name = resolveReference(shared.json, attrs.node_group_name, `${address}.node_group_name`);
    return {
      address,
      name: literalString(name ?? address.split(".")[1], `${address}.node_group_name`),
      labels,
      taints,
      desiredSize: desired,
      instanceTypes: Array.isArray(attrs.instance_types) ? attrs.instance_types.map(String) : [],
      capacityType: typeof attrs.capacity_type === "string" ? attrs.capacity_type : "ON_DEMAND",
    };
  });
  if (groups.length === 0) {
    throw new RehearsalError(
      `the shared stack declares no aws_eks_node_group; nothing to fake nodes from`,
    );
  }
  return groups.sort((a, b) => a.name.localeCompare(b.name));
}

/** The region the shared stack's AWS provider targets (zones are `<region>a`, `b`, ...). */
export function awsRegion(shared: Stack): string {
  const aws = blocks(shared.json.provider?.aws)[0];
  const region = aws?.region;
  if (typeof region !== "string" || region.includes("${")) {
    throw new RehearsalError(`the shared stack's aws provider has no literal region`);
  }
  return region;
}

/**
 * The availability zones the node groups span: the distinct zones of the subnets the node groups
 * use, read from `aws_subnet.availability_zone` (a literal, or an index into
 * `data.aws_availability_zones.<x>.names`, which maps to `<region>` + a, b, c...).
 */
export function nodeZones(shared: Stack): string[] {
  const region = awsRegion(shared);
  const zones = new Set<string>();
  for (const { address, attrs } of resourcesOfType(shared.json, "aws_eks_node_group")) {
    const subnets = Array.isArray(attrs.subnet_ids) ? attrs.subnet_ids : [];
    for (const ref of subnets) {
      const match = /^\$\{aws_subnet\.([\w-]+)\.id\}$/.exec(String(ref));
      const subnet = match ? shared.json.resource?.aws_subnet?.[match[1]!] : undefined;
      if (!subnet) {
        throw new RehearsalError(
          `${address}.subnet_ids: ${String(ref)} is not an aws_subnet of the stack`,
        );
      }
      zones.add(zoneName(region, subnet.availability_zone, `aws_subnet.${match![1]}`));
    }
  }
  if (zones.size === 0) throw new RehearsalError(`the shared stack's node groups name no subnets`);
  return [...zones].sort();
}

export function zoneName(region: string, value: unknown, where: string): string {
  if (typeof value === "string" && !value.includes("${")) return value;
  const indexed = /\.names\[(\d+)\]\}$/.exec(String(value));
  if (indexed) return `${region}${String.fromCharCode(97 + Number(indexed[1]))}`;
  const element = /element\([^,]+\.names,\s*(\d+)\)\}$/.exec(String(value));
  if (element) return `${region}${String.fromCharCode(97 + Number(element[1]))}`;
  throw new RehearsalError(
    `${where}.availability_zone: cannot tell the zone from ${JSON.stringify(value)}`,
  );
}

// --- namespaces, quotas, limit ranges (application stacks) -------------------------------------

/** A Kubernetes object to create, with the resource it came from. */
export interface KubeObject {
  readonly address: string;
  readonly manifest: Record<string, unknown>;
}

function camel(key: string): string {
  return key.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

const ANY_REFERENCE = /\$\{[^}]*\}/g;

/**
 * Resolves references in a configured value as Terraform would: a whole-string reference takes the
 * referenced value, references inside a longer string (`"${...}-deployer"`) are interpolated.
 */
export function interpolate(json: StackJson, value: unknown, where: string): unknown {
  if (typeof value !== "string" || !value.includes("${")) return value;
  if (WHOLE_REFERENCE.test(value)) return resolveReference(json, value, where);
  return value.replace(ANY_REFERENCE, (ref) => String(resolveReference(json, ref, where)));
}

function stringMap(
  json: StackJson,
  value: unknown,
  where: string,
): Record<string, string> | undefined {
  const map = block(value);
  if (!map) return undefined;
  return Object.fromEntries(
    Object.entries(map).map(([k, v]) => [k, String(interpolate(json, v, `${where}.${k}`))]),
  );
}

/** Terraform block names the provider writes in the singular for a Kubernetes list field. */
const LIST_FIELDS: Readonly<Record<string, string>> = {
  rule: "rules",
  subject: "subjects",
  limit: "limits",
  match_expression: "matchExpressions",
  cluster_role_selectors: "clusterRoleSelectors",
  port: "ports",
};
/** IntOrString fields the provider writes as strings; digits become a number, as it converts them. */
const INT_OR_STRING_FIELDS = new Set(["port", "target_port", "end_port"]);
/** Nested blocks that stand for one Kubernetes object (not a list of them). */
const SINGLE_FIELDS = new Set(["role_ref", "scope_selector", "aggregation_rule"]);
/** Maps whose keys are data (resource names, label keys), never converted to camelCase. */
const MAP_FIELDS = new Set([
  "hard",
  "default",
  "default_request",
  "max",
  "min",
  "max_limit_request_ratio",
  "match_labels",
  "selector",
]);

/**
 * Converts a provider block to its Kubernetes form: snake_case keys to camelCase, singular list
 * blocks to their plural field, single blocks to objects, references resolved.
 */
function toKubernetes(json: StackJson, value: unknown, where: string): unknown {
  if (Array.isArray(value)) return value.map((v, i) => toKubernetes(json, v, `${where}[${i}]`));
  if (value === null || typeof value !== "object") return interpolate(json, value, where);
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    const at = `${where}.${key}`;
    if (MAP_FIELDS.has(key)) {
      out[camel(key)] = stringMap(json, raw, at);
    } else if (key in LIST_FIELDS && raw !== null && typeof raw === "object") {
      out[LIST_FIELDS[key]!] = blocks(raw).map((b, i) => toKubernetes(json, b, `${at}[${i}]`));
    } else if (INT_OR_STRING_FIELDS.has(key) && typeof raw === "string" && /^\d+$/.test(raw)) {
      out[camel(key)] = Number(raw);
    } else if (SINGLE_FIELDS.has(key)) {
      out[camel(key)] = toKubernetes(json, block(raw), at);
    } else {
      out[camel(key)] = toKubernetes(json, raw, at);
    }
  }
  return out;
}

function metadata(
  json: StackJson,
  attrs: Record<string, unknown>,
  address: string,
  namespaced: boolean,
) {
  const meta = block(attrs.metadata);
  if (!meta) throw new RehearsalError(`${address} has no metadata block`);
  if (meta.generate_name !== undefined) {
    throw new RehearsalError(
      `${address}.metadata.generate_name cannot be rehearsed; give it a name`,
    );
  }
  const name = interpolate(json, meta.name, `${address}.metadata.name`);
  const out: Record<string, unknown> = { name: literalString(name, `${address}.metadata.name`) };
  if (namespaced) {
    const ns = interpolate(json, meta.namespace ?? "default", `${address}.metadata.namespace`);
    out.namespace = literalString(ns, `${address}.metadata.namespace`);
  }
  const labels = stringMap(json, meta.labels, `${address}.metadata.labels`);
  if (labels) out.labels = labels;
  const annotations = stringMap(json, meta.annotations, `${address}.metadata.annotations`);
  if (annotations) out.annotations = annotations;
  return out;
}

/** How one provider resource type becomes a Kubernetes object. */
interface Translation {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Top-level provider attributes copied (converted) into the object besides `metadata`. */
  readonly fields: readonly string[];
}

/** The Kubernetes resource types the rehearsal creates, in the order it creates them. */
export const KUBERNETES_TRANSLATIONS: Readonly<Record<string, Translation>> = {
  kubernetes_namespace_v1: { apiVersion: "v1", kind: "Namespace", namespaced: false, fields: [] },
  kubernetes_cluster_role_v1: {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    namespaced: false,
    fields: ["rule", "aggregation_rule"],
  },
  kubernetes_role_v1: {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    namespaced: true,
    fields: ["rule"],
  },
  kubernetes_cluster_role_binding_v1: {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    namespaced: false,
    fields: ["role_ref", "subject"],
  },
  kubernetes_role_binding_v1: {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    namespaced: true,
    fields: ["role_ref", "subject"],
  },
  kubernetes_network_policy_v1: {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    namespaced: true,
    fields: ["spec"],
  },
  kubernetes_service_v1: { apiVersion: "v1", kind: "Service", namespaced: true, fields: ["spec"] },
  kubernetes_resource_quota_v1: {
    apiVersion: "v1",
    kind: "ResourceQuota",
    namespaced: true,
    fields: ["spec"],
  },
  kubernetes_limit_range_v1: {
    apiVersion: "v1",
    kind: "LimitRange",
    namespaced: true,
    fields: ["spec"],
  },
};

/** Provider attributes that do not become part of the object. */
const PROVIDER_ONLY = new Set([
  "//",
  "metadata",
  "depends_on",
  "provider",
  "lifecycle",
  "timeouts",
  "wait_for_default_service_account",
  "wait_for_load_balancer",
]);

/**
 * Every namespace, RBAC object, ResourceQuota and LimitRange of an application stack as a
 * Kubernetes manifest, in creation order. Any other `kubernetes_*` resource, or an attribute the
 * translation does not know, is an error, so the rehearsal never quietly deploys less than the
 * stack would.
 */
export function kubernetesObjects(stack: Stack): KubeObject[] {
  const unknown = Object.keys(stack.json.resource ?? {}).filter(
    (type) => type.startsWith("kubernetes_") && !(type in KUBERNETES_TRANSLATIONS),
  );
  if (unknown.length > 0) {
    throw new RehearsalError(
      `stack ${stack.name} declares ${unknown.join(", ")}, which the rehearsal does not translate yet (scripts/k8s-rehearsal/lib/stack.ts)`,
    );
  }
  const objects: KubeObject[] = [];
  for (const [type, t] of Object.entries(KUBERNETES_TRANSLATIONS)) {
    for (const { address, attrs } of resourcesOfType(stack.json, type)) {
      const manifest: Record<string, unknown> = {
        apiVersion: t.apiVersion,
        kind: t.kind,
        metadata: metadata(stack.json, attrs, address, t.namespaced),
      };
      for (const [key, value] of Object.entries(attrs)) {
        if (PROVIDER_ONLY.has(key)) continue;
        if (!t.fields.includes(key)) {
          throw new RehearsalError(`${address}.${key} has no translation in the rehearsal`);
        }
        const converted = toKubernetes(stack.json, { [key]: value }, address) as Record<
          string,
          unknown
        >;
        const field = Object.keys(converted)[0]!;
        manifest[field] =
          key === "spec"
            ? toKubernetes(stack.json, block(value), `${address}.spec`)
            : converted[field];
      }
      objects.push({ address, manifest });
    }
  }
  return objects;
}

// --- helm releases ------------------------------------------------------------------------------

/** One `helm_release`, normalised with the Helm provider's defaults. */
export interface HelmRelease {
  readonly address: string;
  readonly name: string;
  readonly namespace: string;
  /** Absolute chart folder (a relative `chart` resolves from the stack's folder). */
  readonly chart: string;
  /** The `values` documents, in order, with other stacks' outputs filled in. */
  readonly values: readonly string[];
  /** The raw attributes, for the translation to helm's flags. */
  readonly attrs: Readonly<Record<string, unknown>>;
}

/** Resolves `chart`: a relative path (or `${path.module}/...`) is relative to the stack folder. */
export function chartPath(stack: Stack, chart: unknown, where: string): string {
  if (typeof chart !== "string" || chart === "") {
    throw new RehearsalError(`${where}.chart is missing`);
  }
  const local = chart.replace(/^\$\{path\.module\}\//, "");
  if (local.includes("${")) throw new RehearsalError(`${where}.chart: cannot resolve ${chart}`);
  return isAbsolute(local) ? local : resolve(stack.dir, local);
}

// --- order ---------------------------------------------------------------------------------------

/** One thing to deploy: a Kubernetes object or a Helm release. */
export type PlanItem =
  | { readonly kind: "object"; readonly address: string; readonly object: KubeObject }
  | { readonly kind: "release"; readonly address: string; readonly release: HelmRelease };

const ADDRESS_IN_REFERENCE = /\$\{([a-zA-Z_][\w-]*\.[\w-]+)[.}[]/g;

/** The addresses a resource depends on: its `depends_on` and the resources its attributes reference. */
export function dependencies(attrs: Record<string, unknown>): Set<string> {
  const deps = new Set<string>();
  for (const dep of Array.isArray(attrs.depends_on) ? attrs.depends_on : []) deps.add(String(dep));
  const rest = Object.fromEntries(Object.entries(attrs).filter(([key]) => key !== "depends_on"));
  for (const match of JSON.stringify(rest).matchAll(ADDRESS_IN_REFERENCE)) deps.add(match[1]!);
  return deps;
}

/**
 * Every Kubernetes object and Helm release of a stack in an order Terraform could apply them:
 * dependencies (`depends_on` and references) first, otherwise objects in creation order (namespaces
 * first), then releases.
 */
export function deploymentPlan(stack: Stack, stacks: ReadonlyMap<string, Stack>): PlanItem[] {
  const items: PlanItem[] = [
    ...kubernetesObjects(stack).map(
      (object) => ({ kind: "object", address: object.address, object }) as const,
    ),
    ...helmReleases(stack, stacks).map(
      (release) => ({ kind: "release", address: release.address, release }) as const,
    ),
  ];
  const addresses = new Set(items.map((i) => i.address));
  const deps = new Map(
    items.map((item) => {
      const [type, id] = item.address.split(".") as [string, string];
      const attrs = stack.json.resource?.[type]?.[id] ?? {};
      return [
        item.address,
        [...dependencies(attrs)].filter((d) => addresses.has(d) && d !== item.address),
      ];
    }),
  );
  const done = new Set<string>();
  const ordered: PlanItem[] = [];
  while (ordered.length < items.length) {
    const next = items.find(
      (i) => !done.has(i.address) && deps.get(i.address)!.every((d) => done.has(d)),
    );
    if (!next) {
      const left = items.filter((i) => !done.has(i.address)).map((i) => i.address);
      throw new RehearsalError(`stack ${stack.name}: dependency cycle among ${left.join(", ")}`);
    }
    done.add(next.address);
    ordered.push(next);
  }
  return ordered;
}

// --- values from other stacks -------------------------------------------------------------------

/** The account id in stand-in ARNs and registry URLs (nothing is applied, so there is none). */
export const STAND_IN_ACCOUNT = "000000000000";

/**
 * Stand-ins for attributes only known after an apply, shaped like the real value (an image is
 * never pulled in the rehearsal, but the chart validates the repository's form).
 */
const COMPUTED: Record<
  string,
  (stack: Stack, attrs: Record<string, unknown>, where: string) => string
> = {
  "aws_ecr_repository.repository_url": (stack, attrs, where) =>
    `${STAND_IN_ACCOUNT}.dkr.ecr.${awsRegion(stack)}.amazonaws.com/${literalString(attrs.name, `${where}.name`)}`,
};

const REMOTE_OUTPUT = /\$\{data\.terraform_remote_state\.([\w-]+)\.outputs\.([\w-]+)\}/g;

/** The value another stack's output will have: configured, or a stand-in for a computed one. */
export function outputValue(source: Stack, output: string, where: string): string {
  const value = source.json.output?.[output]?.value;
  if (value === undefined)
    throw new RehearsalError(`${where}: stack ${source.name} has no output ${output}`);
  const ref = typeof value === "string" ? /^\$\{([\w-]+)\.([\w-]+)\.([\w-]+)\}$/.exec(value) : null;
  const standIn = ref ? COMPUTED[`${ref[1]}.${ref[3]}`] : undefined;
  if (ref && standIn) {
    const attrs = source.json.resource?.[ref[1]!]?.[ref[2]!];
    if (!attrs)
      throw new RehearsalError(`${where}: ${value} is not a resource of stack ${source.name}`);
    return standIn(source, attrs, `${ref[1]}.${ref[2]}`);
  }
  const resolved = resolveReference(
    source.json,
    value,
    `${where} (output ${output} of ${source.name})`,
  );
  if (
    typeof resolved === "string" ||
    typeof resolved === "number" ||
    typeof resolved === "boolean"
  ) {
    return String(resolved);
  }
  throw new RehearsalError(`${where}: output ${output} of ${source.name} is not a single value`);
}

/**
 * Replaces every `${data.terraform_remote_state.<x>.outputs.<y>}` in a string with the value the
 * other stack's output will have, as Terraform interpolates it (raw text, no quoting). The other
 * stack is the one whose state key the data source reads (`<stack>/terraform.tfstate`).
 */
export function interpolateRemoteState(
  stack: Stack,
  text: string,
  stacks: ReadonlyMap<string, Stack>,
  where: string,
): string {
  const replaced = text.replace(REMOTE_OUTPUT, (_m, dataName: string, output: string) => {
    const data = stack.json.data?.terraform_remote_state?.[dataName];
    const config = block(data?.config);
    const key = typeof config?.key === "string" ? config.key : "";
    const sourceName = key.split("/")[0] ?? "";
    const source = stacks.get(sourceName);
    if (!data || !source) {
      throw new RehearsalError(
        `${where}: data.terraform_remote_state.${dataName} reads state key "${key}", which is no synthesized stack`,
      );
    }
    return outputValue(source, output, where);
  });
  if (replaced.includes("${")) {
    const left = /\$\{[^}]*\}/.exec(replaced)?.[0];
    throw new RehearsalError(`${where}: cannot resolve ${left} from the synthesized JSON`);
  }
  return replaced;
}

/** Every `helm_release` of a stack; `stacks` resolves values read from other stacks' outputs. */
export function helmReleases(stack: Stack, stacks: ReadonlyMap<string, Stack>): HelmRelease[] {
  return resourcesOfType(stack.json, "helm_release").map(({ address, attrs }) => {
    const name = literalString(
      resolveReference(stack.json, attrs.name, `${address}.name`),
      `${address}.name`,
    );
    const namespace = literalString(
      resolveReference(stack.json, attrs.namespace ?? "default", `${address}.namespace`),
      `${address}.namespace`,
    );
    const values = attrs.values === undefined ? [] : attrs.values;
    if (!Array.isArray(values) || values.some((v) => typeof v !== "string")) {
      throw new RehearsalError(`${address}.values must be a list of strings`);
    }
    return {
      address,
      name,
      namespace,
      chart: chartPath(stack, attrs.chart, address),
      values: (values as string[]).map((v, i) =>
        interpolateRemoteState(stack, v, stacks, `${address}.values[${i}]`),
      ),
      attrs,
    };
  });
}

// --- data sources --------------------------------------------------------------------------------

/** Kubernetes data sources the rehearsal can look up after the releases (type → kubectl kind). */
export const KUBERNETES_DATA_KINDS: Readonly<Record<string, string>> = {
  kubernetes_service_v1: "service",
  kubernetes_namespace_v1: "namespace",
  kubernetes_config_map_v1: "configmap",
  kubernetes_secret_v1: "secret",
};

/** A Kubernetes object a stack reads with a data source, and the attribute paths its outputs use. */
export interface KubernetesRead {
  readonly address: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  /** Paths into the object the stack's outputs read, e.g. `status[0].load_balancer[0].ingress[0].hostname`. */
  readonly outputPaths: readonly string[];
}

function outputPathsOf(stack: Stack, address: string): string[] {
  const prefix = `\${${address}.`;
  const paths = Object.values(stack.json.output ?? {})
    .map((o) => (typeof o.value === "string" ? o.value : JSON.stringify(o.value ?? "")))
    .flatMap((v) =>
      v
        .split(prefix)
        .slice(1)
        .map((rest) => rest.split("}")[0]!),
    );
  return [...new Set(paths)];
}

/**
 * Every object a stack reads back once applied: each `data.kubernetes_*`, and each Kubernetes
 * resource whose attributes an output uses (a Service's load balancer hostname, for example).
 */
export function kubernetesReads(stack: Stack): KubernetesRead[] {
  const reads: KubernetesRead[] = [];
  for (const [type, entries] of Object.entries(stack.json.data ?? {})) {
    if (!type.startsWith("kubernetes_")) continue;
    const kind = KUBERNETES_DATA_KINDS[type];
    for (const [id, attrs] of Object.entries(entries)) {
      const address = `data.${type}.${id}`;
      if (!kind) throw new RehearsalError(`${address}: the rehearsal does not look up ${type} yet`);
      const meta = block(attrs.metadata) ?? {};
      const name = literalString(
        interpolate(stack.json, meta.name, `${address}.metadata.name`),
        `${address}.metadata.name`,
      );
      const ns =
        meta.namespace === undefined
          ? undefined
          : interpolate(stack.json, meta.namespace, `${address}.metadata.namespace`);
      reads.push({
        address,
        kind,
        name,
        ...(kind === "namespace"
          ? {}
          : { namespace: literalString(ns ?? "default", `${address}.metadata.namespace`) }),
        outputPaths: outputPathsOf(stack, address),
      });
    }
  }
  for (const { address, manifest } of kubernetesObjects(stack)) {
    const outputPaths = outputPathsOf(stack, address);
    if (outputPaths.length === 0) continue;
    const meta = manifest.metadata as { name: string; namespace?: string };
    reads.push({
      address,
      kind: String(manifest.kind).toLowerCase(),
      name: meta.name,
      ...(meta.namespace ? { namespace: meta.namespace } : {}),
      outputPaths,
    });
  }
  return reads;
}

/**
 * Follows a Terraform attribute path (`status[0].load_balancer[0].ingress[0].hostname`) into the
 * Kubernetes object the provider flattened it from (snake_case to camelCase, lists of one).
 */
export function followAttributePath(object: unknown, path: string): unknown {
  let current: unknown = object;
  for (const part of path.split(".")) {
    const m = /^([\w-]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) return undefined;
    current = (current as Record<string, unknown> | undefined)?.[camel(m[1]!)];
    for (const index of m[2]!.match(/\d+/g) ?? []) {
      current = Array.isArray(current)
        ? current[Number(index)]
        : index === "0"
          ? current
          : undefined;
    }
  }
  return current;
}

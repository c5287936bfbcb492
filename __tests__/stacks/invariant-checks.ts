/**
 * Checkers for docs/invariants.md 1-20 and 29 over synthesized stacks. Each returns the problems it
 * finds (empty when the property holds), so a test can show both that the committed stacks pass and
 * that a copy with the property broken is reported.
 */
import type { StackName } from "../../stacks/app";
import { dataSources, resources, type Block, type StackJson } from "../helpers/synth";
import { WORKLOAD_ENV_LABEL } from "../../config/names";

export type Stacks = Record<StackName, StackJson>;
export type Checker = (stacks: Stacks) => string[];

type Obj = Record<string, unknown>;
interface Statement {
  sid?: string;
  effect?: string;
  actions?: string[];
  resources?: string[];
  principals?: Array<{ type: string; identifiers: string[] }>;
  condition?: Array<{ test: string; variable: string; values: string[] }>;
}

/** `${type.name.attribute}` for a block, as cdktf writes a reference to it. */
export function ref(block: Block, attribute: string): string {
  return `\${${block.address}.${attribute}}`;
}

/** The one element of a block that cdktf writes as an object or a one-element list. */
function one(value: unknown): Obj | undefined {
  if (Array.isArray(value)) return value.length === 1 ? (value[0] as Obj) : undefined;
  return value as Obj | undefined;
}

/** The policy document a `policy`/`assume_role_policy` expression names, with its statements. */
export function policyDocument(json: StackJson, expression: unknown): Statement[] {
  const m = /^\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}$/.exec(String(expression));
  if (!m) return [];
  const doc = dataSources(json, "aws_iam_policy_document").find(
    (d) => d.address === `data.aws_iam_policy_document.${m[1]}`,
  );
  return (doc?.statement as Statement[] | undefined) ?? [];
}

/** The resources of a type that reference `target` through `attribute` (`bucket`, `vpc_id`, ...). */
function referencing(json: StackJson, type: string, attribute: string, target: string): Block[] {
  return resources(json, type).filter((b) => b[attribute] === target);
}

function stateBucket(stacks: Stacks): { json: StackJson; bucket?: Block } {
  const json = stacks.bootstrap;
  const buckets = resources(json, "aws_s3_bucket");
  return { json, bucket: buckets.length === 1 ? buckets[0] : undefined };
}

const remoteStacks = ["shared", "dev", "prod"] as const;

export const invariants: Record<string, Checker> = {
  "1 state bucket versioning Enabled": (stacks) => {
    const { json, bucket } = stateBucket(stacks);
    if (!bucket) return ["bootstrap: expected exactly one aws_s3_bucket"];
    const versioning = referencing(json, "aws_s3_bucket_versioning", "bucket", ref(bucket, "id"));
    return versioning.length === 1 &&
      one(versioning[0].versioning_configuration)?.status === "Enabled"
      ? []
      : ["state bucket: no aws_s3_bucket_versioning with status Enabled"];
  },

  "2 state bucket SSE-KMS with a rotating customer key": (stacks) => {
    const { json, bucket } = stateBucket(stacks);
    if (!bucket) return ["bootstrap: expected exactly one aws_s3_bucket"];
    const sse = referencing(
      json,
      "aws_s3_bucket_server_side_encryption_configuration",
      "bucket",
      ref(bucket, "id"),
    );
    const rule = one(one(sse[0]?.rule)?.apply_server_side_encryption_by_default);
    if (sse.length !== 1 || rule?.sse_algorithm !== "aws:kms") {
      return ["state bucket: default encryption is not aws:kms"];
    }
    const key = resources(json, "aws_kms_key").find(
      (k) => rule.kms_master_key_id === ref(k, "arn"),
    );
    if (!key) return ["state bucket: SSE-KMS does not use a customer key of this stack"];
    return key.enable_key_rotation === true ? [] : [`${key.address}: key rotation is off`];
  },

  "3 state bucket public access blocked, ownership enforced": (stacks) => {
    const { json, bucket } = stateBucket(stacks);
    if (!bucket) return ["bootstrap: expected exactly one aws_s3_bucket"];
    const problems: string[] = [];
    const pab = referencing(json, "aws_s3_bucket_public_access_block", "bucket", ref(bucket, "id"));
    for (const flag of [
      "block_public_acls",
      "block_public_policy",
      "ignore_public_acls",
      "restrict_public_buckets",
    ]) {
      if (pab.length !== 1 || pab[0][flag] !== true) problems.push(`public access block: ${flag}`);
    }
    const own = referencing(json, "aws_s3_bucket_ownership_controls", "bucket", ref(bucket, "id"));
    if (own.length !== 1 || one(own[0].rule)?.object_ownership !== "BucketOwnerEnforced") {
      problems.push("ownership controls: not BucketOwnerEnforced");
    }
    return problems;
  },

  "4 state bucket policy denies insecure transport": (stacks) => {
    const { json, bucket } = stateBucket(stacks);
    if (!bucket) return ["bootstrap: expected exactly one aws_s3_bucket"];
    const policies = referencing(json, "aws_s3_bucket_policy", "bucket", ref(bucket, "id"));
    const denies = policies
      .flatMap((p) => policyDocument(json, p.policy))
      .filter(
        (s) =>
          s.effect === "Deny" &&
          s.actions?.includes("s3:*") &&
          s.principals?.some((p) => p.identifiers.includes("*")) &&
          s.resources?.includes(ref(bucket, "arn")) &&
          s.resources?.includes(`${ref(bucket, "arn")}/*`) &&
          s.condition?.some(
            (c) =>
              c.test === "Bool" &&
              c.variable === "aws:SecureTransport" &&
              c.values.length === 1 &&
              c.values[0] === "false",
          ),
      );
    return denies.length > 0 ? [] : ["state bucket policy: no Deny on aws:SecureTransport = false"];
  },

  "5 every S3 backend encrypted, locked, its own key": (stacks) => {
    const problems: string[] = [];
    const keys = new Map<string, string>();
    // bootstrap keeps local state until its state is moved into the bucket it creates.
    const withBootstrap = stacks.bootstrap.terraform.backend?.local
      ? remoteStacks
      : (["bootstrap", ...remoteStacks] as const);
    for (const stack of withBootstrap) {
      const s3 = stacks[stack].terraform.backend?.s3;
      if (!s3) {
        problems.push(`${stack}: no S3 backend`);
        continue;
      }
      if (s3.encrypt !== true) problems.push(`${stack}: backend encrypt is not true`);
      if (s3.use_lockfile !== true) problems.push(`${stack}: backend use_lockfile is not true`);
      if (s3.key !== `${stack}/terraform.tfstate`) problems.push(`${stack}: key ${String(s3.key)}`);
      const other = keys.get(String(s3.key));
      if (other) problems.push(`${stack}: shares its state key with ${other}`);
      keys.set(String(s3.key), stack);
    }
    return problems;
  },

  "6 GitHub OIDC trust pins audience and exact subjects": (stacks) => {
    const json = stacks.shared;
    const repo = only1(resources(json, "aws_iam_openid_connect_provider"));
    if (!repo) return ["shared: expected one aws_iam_openid_connect_provider"];
    const problems: string[] = [];
    const federated = ciRoles(json);
    if (federated.length === 0) problems.push("shared: no role trusts the GitHub OIDC provider");
    for (const { role, trust } of federated) {
      for (const s of trust) {
        const aud = s.condition?.filter((c) => c.variable.endsWith(":aud")) ?? [];
        const sub = s.condition?.filter((c) => c.variable.endsWith(":sub")) ?? [];
        if (
          aud.length !== 1 ||
          aud[0].test !== "StringEquals" ||
          aud[0].variable !== "token.actions.githubusercontent.com:aud" ||
          JSON.stringify(aud[0].values) !== JSON.stringify(["sts.amazonaws.com"])
        ) {
          problems.push(`${String(role.name)}: audience is not exactly sts.amazonaws.com`);
        }
        if (sub.length !== 1 || sub[0].test !== "StringEquals" || sub[0].values.length === 0) {
          problems.push(`${String(role.name)}: subject is not matched with StringEquals`);
          continue;
        }
        for (const v of sub[0].values) {
          if (v.includes("*") || !v.startsWith(`repo:${repository(stacks)}:`)) {
            problems.push(`${String(role.name)}: subject ${v} is not exact for the repository`);
          }
        }
      }
    }
    return problems;
  },

  "7 one role per job kind; prod not from pull requests or branches": (stacks) => {
    const json = stacks.shared;
    const project = projectOf(stacks);
    const byName = new Map(ciRoles(json).map((r) => [String(r.role.name), r]));
    const problems: string[] = [];
    const kinds = ["plan", "deploy-dev", "deploy-prod", "deploy-shared"];
    for (const kind of kinds) {
      if (!byName.has(`${project}-${kind}`)) problems.push(`no role ${project}-${kind}`);
    }
    if (byName.size !== kinds.length)
      problems.push(`expected ${kinds.length} CI roles, got ${byName.size}`);
    const subjects = (name: string) =>
      (byName.get(name)?.trust ?? []).flatMap(
        (s) =>
          s.condition?.filter((c) => c.variable.endsWith(":sub")).flatMap((c) => c.values) ?? [],
      );
    const prod = subjects(`${project}-deploy-prod`);
    if (JSON.stringify(prod) !== JSON.stringify([`repo:${repository(stacks)}:environment:prod`])) {
      problems.push(`deploy-prod trusts ${JSON.stringify(prod)}, not only environment prod`);
    }
    // No two roles trust the same subject: a job kind maps to exactly one role.
    const seen = new Map<string, string>();
    for (const name of byName.keys()) {
      for (const s of subjects(name)) {
        if (seen.has(s)) problems.push(`${s} is trusted by ${seen.get(s)} and ${name}`);
        seen.set(s, name);
      }
    }
    return problems;
  },

  "8 no * on *, no service:* grants, AdministratorAccess only on deploy-shared": (stacks) => {
    const json = stacks.shared;
    const problems: string[] = [];
    const project = projectOf(stacks);
    const roles = resources(json, "aws_iam_role");
    const roleName = (expression: unknown) =>
      roles.find((r) => expression === ref(r, "name") || expression === ref(r, "id"))?.name;
    for (const p of resources(json, "aws_iam_role_policy")) {
      for (const s of policyDocument(json, p.policy)) {
        if (s.effect === "Deny") continue;
        const wildcard = (s.actions ?? []).filter((a) => a === "*" || a.endsWith(":*"));
        if (wildcard.length > 0) {
          problems.push(`${String(roleName(p.role))}: grants ${wildcard.join(", ")}`);
        }
        if (s.actions?.includes("*") && s.resources?.includes("*")) {
          problems.push(`${String(roleName(p.role))}: grants * on *`);
        }
      }
    }
    for (const a of resources(json, "aws_iam_role_policy_attachment")) {
      if (
        String(a.policy_arn).endsWith("/AdministratorAccess") &&
        roleName(a.role) !== `${project}-deploy-shared`
      ) {
        problems.push(`${String(roleName(a.role))}: AdministratorAccess`);
      }
    }
    return problems;
  },

  "9 public endpoint off or limited to configured CIDRs": (stacks) => {
    const cluster = only1(resources(stacks.shared, "aws_eks_cluster"));
    const vpc = one(cluster?.vpc_config);
    if (!vpc) return ["shared: expected one aws_eks_cluster with vpc_config"];
    const problems: string[] = [];
    if (vpc.endpoint_private_access !== true) problems.push("private endpoint is off");
    if (vpc.endpoint_public_access !== false) {
      const cidrs = (vpc.public_access_cidrs as string[] | undefined) ?? [];
      if (cidrs.length === 0) problems.push("public endpoint open without public_access_cidrs");
      for (const c of cidrs) if (c.endsWith("/0")) problems.push(`public endpoint open to ${c}`);
    }
    return problems;
  },

  "10 all control-plane log types": (stacks) => {
    const cluster = only1(resources(stacks.shared, "aws_eks_cluster"));
    const types = (cluster?.enabled_cluster_log_types as string[] | undefined) ?? [];
    return ["api", "audit", "authenticator", "controllerManager", "scheduler"]
      .filter((t) => !types.includes(t))
      .map((t) => `control-plane log type ${t} is off`);
  },

  "11 secrets envelope-encrypted with a KMS key": (stacks) => {
    const json = stacks.shared;
    const cluster = only1(resources(json, "aws_eks_cluster"));
    const enc = one(cluster?.encryption_config);
    const keyArn = one(enc?.provider)?.key_arn;
    const keys = resources(json, "aws_kms_key");
    if (!(enc?.resources as string[] | undefined)?.includes("secrets")) {
      return ["cluster: secrets are not encrypted"];
    }
    return keys.some((k) => keyArn === ref(k, "arn") && k.enable_key_rotation === true)
      ? []
      : ["cluster: secrets key is not a rotating customer key of this stack"];
  },

  "12 authentication mode API, creator admin off": (stacks) => {
    const access = one(only1(resources(stacks.shared, "aws_eks_cluster"))?.access_config);
    const problems: string[] = [];
    if (access?.authentication_mode !== "API") problems.push("authentication_mode is not API");
    if (access?.bootstrap_cluster_creator_admin_permissions !== false) {
      problems.push("bootstrap_cluster_creator_admin_permissions is not false");
    }
    return problems;
  },

  "13 cluster subnets span at least two AZs": (stacks) => {
    const json = stacks.shared;
    const ids = (one(only1(resources(json, "aws_eks_cluster"))?.vpc_config)?.subnet_ids ??
      []) as string[];
    const zones = new Set(
      resources(json, "aws_subnet")
        .filter((s) => ids.includes(ref(s, "id")))
        .map((s) => String(s.availability_zone)),
    );
    return zones.size >= 2 ? [] : [`cluster subnets span ${zones.size} zone(s)`];
  },

  "14 node groups in private subnets only, no remote access": (stacks) => {
    const json = stacks.shared;
    const priv = new Set(privateSubnets(json).map((s) => ref(s, "id")));
    const problems: string[] = [];
    const groups = resources(json, "aws_eks_node_group");
    if (groups.length === 0) problems.push("no node groups");
    for (const g of groups) {
      const ids = (g.subnet_ids as string[] | undefined) ?? [];
      if (ids.length === 0 || ids.some((id) => !priv.has(id))) {
        problems.push(`${String(g.node_group_name)}: not only in private subnets`);
      }
      if (g.remote_access !== undefined)
        problems.push(`${String(g.node_group_name)}: remote_access`);
    }
    return problems;
  },

  "15 launch templates: IMDSv2 required, hop limit 1": (stacks) =>
    nodeTemplates(stacks.shared).flatMap(({ group, template }) => {
      const md = one(template?.metadata_options);
      return md?.http_tokens === "required" && md.http_put_response_hop_limit === 1
        ? []
        : [`${String(group.node_group_name)}: IMDSv2 not required with hop limit 1`];
    }),

  "16 root volumes encrypted": (stacks) =>
    nodeTemplates(stacks.shared).flatMap(({ group, template }) => {
      const devices = (template?.block_device_mappings as Obj[] | undefined) ?? [];
      const ok =
        devices.length > 0 &&
        devices.every((d) => ["true", true].includes(one(d.ebs)?.encrypted as string));
      return ok ? [] : [`${String(group.node_group_name)}: root volume not encrypted`];
    }),

  "17 prod node group min >= 2, update_config on every group": (stacks) => {
    const groups = resources(stacks.shared, "aws_eks_node_group");
    const problems: string[] = [];
    const prod = groups.find((g) => (g.labels as Obj | undefined)?.[WORKLOAD_ENV_LABEL] === "prod");
    const min = one(prod?.scaling_config)?.min_size;
    if (typeof min !== "number" || min < 2)
      problems.push(`prod node group min_size ${String(min)}`);
    for (const g of groups) {
      const u = one(g.update_config);
      if (!u || (u.max_unavailable === undefined && u.max_unavailable_percentage === undefined)) {
        problems.push(`${String(g.node_group_name)}: no update_config`);
      }
    }
    return problems;
  },

  "18 flow logs on, default security group without rules": (stacks) => {
    const json = stacks.shared;
    const vpc = only1(resources(json, "aws_vpc"));
    if (!vpc) return ["shared: expected one aws_vpc"];
    const problems: string[] = [];
    const logs = referencing(json, "aws_flow_log", "vpc_id", ref(vpc, "id"));
    if (!logs.some((l) => l.traffic_type === "ALL")) problems.push("no flow log of ALL traffic");
    const dsg = referencing(json, "aws_default_security_group", "vpc_id", ref(vpc, "id"));
    if (dsg.length !== 1) problems.push("default security group is not managed");
    for (const g of dsg) {
      if (g.ingress !== undefined || g.egress !== undefined) {
        problems.push("default security group has rules");
      }
    }
    return problems;
  },

  "19 no open ingress to 22, 3389 or all ports; every rule described": (stacks) => {
    const problems: string[] = [];
    for (const stack of Object.keys(stacks) as StackName[]) {
      const json = stacks[stack];
      const rules: Array<{ where: string; rule: Obj }> = [
        ...resources(json, "aws_security_group").flatMap((g) =>
          ((g.ingress as Obj[] | undefined) ?? []).map((rule) => ({ where: g.address, rule })),
        ),
        ...resources(json, "aws_security_group_rule")
          .filter((r) => r.type === "ingress")
          .map((rule) => ({ where: rule.address, rule })),
        ...resources(json, "aws_vpc_security_group_ingress_rule").map((rule) => ({
          where: rule.address,
          rule: { ...rule, cidr_blocks: rule.cidr_ipv4 ? [rule.cidr_ipv4] : [] },
        })),
      ];
      for (const { where, rule } of rules) {
        if (typeof rule.description !== "string" || rule.description.trim() === "") {
          problems.push(`${stack} ${where}: rule without description`);
        }
        const open = ((rule.cidr_blocks as string[] | undefined) ?? []).includes("0.0.0.0/0");
        const from = Number(rule.from_port ?? 0);
        const to = Number(rule.to_port ?? 65535);
        const all =
          rule.protocol === "-1" || rule.ip_protocol === "-1" || (from <= 0 && to >= 65535);
        const covers = (port: number) => from <= port && port <= to;
        if (open && (all || covers(22) || covers(3389))) {
          problems.push(
            `${stack} ${where}: 0.0.0.0/0 ingress to ${all ? "all ports" : `${from}-${to}`}`,
          );
        }
      }
    }
    return problems;
  },

  "20 registry: immutable tags, scan on push, KMS, lifecycle policy": (stacks) => {
    const json = stacks.shared;
    const repos = resources(json, "aws_ecr_repository");
    if (repos.length === 0) return ["shared: no aws_ecr_repository"];
    const problems: string[] = [];
    for (const r of repos) {
      if (r.image_tag_mutability !== "IMMUTABLE") problems.push(`${String(r.name)}: mutable tags`);
      if (one(r.image_scanning_configuration)?.scan_on_push !== true) {
        problems.push(`${String(r.name)}: no scan on push`);
      }
      const enc = one(r.encryption_configuration);
      if (enc?.encryption_type !== "KMS" || !enc.kms_key)
        problems.push(`${String(r.name)}: not KMS`);
      const lifecycle = referencing(json, "aws_ecr_lifecycle_policy", "repository", ref(r, "name"));
      if (lifecycle.length !== 1) problems.push(`${String(r.name)}: no lifecycle policy`);
    }
    return problems;
  },

  "29 helm_release: atomic, wait, cleanup, timeout, bounded history, no force_update": (stacks) =>
    (["dev", "prod"] as const).flatMap((stack) => {
      const releases = resources(stacks[stack], "helm_release");
      if (releases.length === 0) return [`${stack}: no helm_release`];
      return releases.flatMap((r) => {
        const p: string[] = [];
        for (const flag of ["atomic", "wait", "cleanup_on_fail"]) {
          if (r[flag] !== true) p.push(`${stack}: ${flag} is not true`);
        }
        if (typeof r.timeout !== "number" || r.timeout <= 0)
          p.push(`${stack}: no explicit timeout`);
        const h = r.max_history;
        if (typeof h !== "number" || h < 1 || h > 50) p.push(`${stack}: max_history ${String(h)}`);
        if (r.force_update === true) p.push(`${stack}: force_update`);
        return p;
      });
    }),
};

function only1(blocks: Block[]): Block | undefined {
  return blocks.length === 1 ? blocks[0] : undefined;
}

function projectOf(stacks: Stacks): string {
  const tags = one(one(stacks.shared.provider?.aws)?.default_tags)?.tags as Obj | undefined;
  return String(tags?.Project);
}

function repository(stacks: Stacks): string {
  const tags = one(one(stacks.shared.provider?.aws)?.default_tags)?.tags as Obj | undefined;
  return String(tags?.Repository);
}

/** Roles whose trust policy names the GitHub OIDC provider. */
function ciRoles(json: StackJson): Array<{ role: Block; trust: Statement[] }> {
  const providers = resources(json, "aws_iam_openid_connect_provider").map((p) => ref(p, "arn"));
  return resources(json, "aws_iam_role")
    .map((role) => ({ role, trust: policyDocument(json, role.assume_role_policy) }))
    .filter(({ trust }) =>
      trust.some((s) =>
        s.principals?.some(
          (p) => p.type === "Federated" && p.identifiers.some((i) => providers.includes(i)),
        ),
      ),
    );
}

/** Subnets whose route tables send no traffic to an internet gateway, and that map no public IPs. */
export function privateSubnets(json: StackJson): Block[] {
  const igwTables = new Set(
    resources(json, "aws_route")
      .filter((r) => String(r.gateway_id ?? "").startsWith("${aws_internet_gateway."))
      .map((r) => String(r.route_table_id)),
  );
  const associations = resources(json, "aws_route_table_association");
  return resources(json, "aws_subnet").filter((s) => {
    const tables = associations
      .filter((a) => a.subnet_id === ref(s, "id"))
      .map((a) => String(a.route_table_id));
    return (
      tables.length > 0 &&
      tables.every((t) => !igwTables.has(t)) &&
      s.map_public_ip_on_launch !== true
    );
  });
}

function nodeTemplates(json: StackJson): Array<{ group: Block; template?: Block }> {
  const templates = resources(json, "aws_launch_template");
  return resources(json, "aws_eks_node_group").map((group) => ({
    group,
    template: templates.find((t) => one(group.launch_template)?.id === ref(t, "id")),
  }));
}

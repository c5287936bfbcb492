/**
 * The platform's settings as one zod schema: every field, its documentation, the form it must
 * have, and the rules across fields. The settings' types are inferred from it (re-exported by
 * `types.ts`), and `validate.ts` turns its issues into {@link ConfigError} lines. Each message says
 * what is allowed; the field and the value are added to it from the issue's path and input.
 *
 * Every object is strict: a key the schema does not know (a misspelling) is an error, never ignored.
 */
import { z } from "zod";
import {
  customerApiSettings,
  customerLabels,
  DNS_LABEL,
  hasControlCharacter,
  isDnsName,
  MAX_CUSTOMER_ID_LENGTH,
  RESERVED_CUSTOMER_IDS,
} from "./customers";
import {
  cidrsOverlap,
  closest,
  cronProblem,
  INSTANCE_TYPE,
  isTimeZone,
  LOG_RETENTION_DAYS,
  NAMESPACE_NAME,
  OCI_TAG,
  parseCidr,
  parseCpu,
  parseMemory,
} from "./rules";
import {
  COLOURS,
  DEPLOY_STRATEGIES,
  ENVIRONMENTS,
  SUPPORTED_KUBERNETES_VERSIONS,
  type EnvironmentName,
} from "./types";

/** The address range EKS assigns to Kubernetes Services; the VPC must not overlap it. */
export const SERVICE_IPV4_CIDR = "172.20.0.0/16";

// ---------------------------------------------------------------------------------------------
// Building blocks. Each takes the sentence that states the allowed form; every issue of the value
// (wrong type, missing, out of range) is reported with it.

const says = (allowed: string) => ({ error: allowed });

/** A test of a value, alone (its failure reported as the field's allowed form) or with its own message. */
type Test<T> = ((value: T) => boolean) | [(value: T) => boolean, string | ((value: T) => string)];

/** A string that passes `tests` in order; the first that fails is the one problem reported. */
function text(allowed: string, ...tests: Test<string>[]) {
  const schema = z.string(says(allowed));
  if (tests.length === 0) return schema;
  return schema.superRefine((value, ctx) => {
    for (const t of tests) {
      const [test, message] = typeof t === "function" ? [t, allowed] : t;
      if (!test(value)) {
        const text = typeof message === "function" ? message(value) : message;
        return ctx.addIssue({ code: "custom", input: value, message: text });
      }
    }
  });
}

/** A whole number from `min` to `max`. */
function whole(min: number, max: number, allowed: string) {
  return z
    .number(says(allowed))
    .refine((n) => Number.isInteger(n) && n >= min && n <= max, says(allowed));
}

/** One of `values`, each quoted and joined by "or" in the message unless `allowed` is given. */
function oneOf<const T extends readonly [string, ...string[]]>(values: T, allowed?: string) {
  return z.enum(values, says(allowed ?? `allowed: ${values.map((v) => `"${v}"`).join(" or ")}`));
}

/** `true` or `false`. */
function flag(allowed = "allowed: true or false") {
  return z.boolean(says(allowed));
}

/**
 * An object with exactly these keys (optional ones may be left out). Any other key is an issue that
 * lists the allowed keys and, for a near miss, the key that was probably meant.
 */
function block<S extends z.core.$ZodLooseShape>(
  shape: S,
  allowed = `allowed: an object with ${Object.keys(shape).join(", ")}`,
  what = "field",
) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== "unrecognized_keys") return allowed;
      const near = issue.keys.flatMap((key) => {
        const meant = closest(key, keys);
        return meant === undefined ? [] : [issue.keys.length === 1 ? meant : `${meant} for ${key}`];
      });
      return `unknown ${what}: allowed are ${keys.join(", ")}${near.length > 0 ? ` (did you mean ${near.join(", ")}?)` : ""}`;
    },
  });
}

/** A problem found by a rule across fields: where (relative to the object), the value, what is allowed. */
type Report = (path: readonly PropertyKey[], value: unknown, allowed: string) => void;

/**
 * `schema` with a rule across its fields. The rule runs whenever the value is an object (or list)
 * at all, so problems elsewhere never hide it; `ok(...path)` says whether the field at `path` is
 * there and passed its own checks (no issue at it, inside it, or at a block around it), so that a
 * rule reads only fields that did.
 */
function withRule<S extends z.ZodType>(
  schema: S,
  rule: (value: z.output<S>, ok: (...path: PropertyKey[]) => boolean, report: Report) => void,
): S {
  return schema.superRefine(
    (value, ctx) => {
      const ok = (...path: PropertyKey[]) =>
        !ctx.issues.some((issue) => {
          const at = issue.path ?? [];
          if (at.length < path.length && issue.code === "unrecognized_keys") return false;
          return at.slice(0, path.length).every((key, i) => key === path[i]);
        });
      rule(value, ok, (path, input, message) =>
        ctx.addIssue({ code: "custom", path: [...path], input, message, continue: true }),
      );
    },
    {
      when: (payload) =>
        !payload.issues.some((i) => !i.path?.length && i.code !== "unrecognized_keys"),
    },
  ) as S;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

// ---------------------------------------------------------------------------------------------
// Field forms used in several places.

/** The allowed form of an image tag, from the configuration or an `IMAGE_TAG_*` variable. */
export const IMAGE_TAG_ALLOWED =
  "allowed: an OCI tag matching [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, such as sha-<commit> or release-1.2.3";

/** An image tag: the OCI grammar. Whether it is mutable depends on `shared.mutableTags`. */
export const imageTagSchema = text(IMAGE_TAG_ALLOWED, (tag) => OCI_TAG.test(tag));

/** A colour release, from the configuration or `ACTIVE_COLOUR_<ENV>`. */
export const colourSchema = oneOf(COLOURS);

/** The problem with deploying `tag` given the mutable tags, or undefined if there is none. */
export function mutableTagProblem(tag: string, mutableTags: readonly string[]): string | undefined {
  const mutable = new Set(["latest", ...mutableTags]);
  return mutable.has(tag)
    ? `a mutable tag (${[...mutable].join(", ")}) never deploys: use sha-<commit> or release-<semver>`
    : undefined;
}

const cidr = (allowed: string, test: (network: { prefix: number }) => boolean = () => true) =>
  text(allowed, (value) => {
    const parsed = parseCidr(value);
    return parsed !== undefined && test(parsed);
  });

const cpu = text('allowed: a positive CPU quantity such as "250m" or "1"', (q) => !!parseCpu(q));
const memory = text(
  'allowed: a positive memory quantity with a unit such as "256Mi" or "1Gi"',
  (q) => !!parseMemory(q),
);

/** CPU and memory in Kubernetes quantity notation (`250m`, `1`, `256Mi`, `1Gi`). */
const resourceQuantitiesSchema = block({ cpu, memory });

// ---------------------------------------------------------------------------------------------
// Node groups.

/** A managed node group's size and machines; prod's needs at least 2 nodes. */
function nodeGroupSchema(env?: EnvironmentName) {
  const sizes = "allowed: a list of 1 to 20 EC2 instance types";
  const minSize = whole(0, 1000, "allowed: 0-1000");
  const schema = block(
    {
      /** EC2 instance types, for example `m7i.large`; several give Spot more pools to draw from. */
      instanceTypes: z
        .array(
          text("allowed: an EC2 instance type such as m6i.large or t3.xlarge", (t) =>
            INSTANCE_TYPE.test(t),
          ),
          says(sizes),
        )
        .min(1, says(sizes))
        .max(20, says(sizes)),
      /** `ON_DEMAND` or `SPOT`. */
      capacityType: oneOf(["ON_DEMAND", "SPOT"]),
      /** Smallest number of nodes. */
      minSize:
        env === "prod"
          ? minSize.refine(
              (n) => n >= 2,
              says("allowed: at least 2 in prod, so losing one node keeps the API up"),
            )
          : minSize,
      /** Largest number of nodes. */
      maxSize: whole(1, 1000, "allowed: 1-1000"),
      /** Nodes at creation; later changes by the autoscaler or the off-hours schedule are kept. */
      desiredSize: whole(0, 1000, "allowed: 0-1000"),
      /** Root volume size in GiB (gp3, encrypted). */
      diskSizeGiB: whole(20, 16384, "allowed: 20-16384 GiB"),
    },
    "a node group block is required",
  );
  return withRule(schema, (g, ok, report) => {
    if (!ok("minSize") || !ok("maxSize") || !ok("desiredSize")) return;
    if (g.minSize > g.maxSize) {
      report(["minSize"], g.minSize, `must not exceed maxSize (${g.maxSize})`);
    }
    if (g.desiredSize < g.minSize || g.desiredSize > g.maxSize) {
      report(
        ["desiredSize"],
        g.desiredSize,
        `allowed: within [minSize, maxSize] = [${g.minSize}, ${g.maxSize}]`,
      );
    }
  });
}

const CRON = 'allowed: a five-field cron expression such as "0 20 * * 1-5"';
const cron = text(`${CRON} (not a string)`, [
  (expression) => cronProblem(expression) === undefined,
  (expression) => `${CRON} (${cronProblem(expression)})`,
]);

/** Scale a node group to zero outside working hours. */
const offHoursScheduleSchema = block({
  /** Turn the schedule off to keep the node group's size around the clock. */
  enabled: flag(),
  /** Cron expression (five fields, UTC or `timeZone`) at which the group scales to zero. */
  scaleDownCron: cron,
  /** Cron expression at which the group returns to its configured sizes. */
  scaleUpCron: cron,
  /** IANA time zone the cron expressions are read in, for example `Europe/Berlin`. */
  timeZone: text("allowed: an IANA time zone such as Europe/Dublin or UTC", isTimeZone),
});

// ---------------------------------------------------------------------------------------------
// The API in one environment.

const IDLE_REPLICAS = "allowed: a whole number of pods, from 2 to the active colour's floor";
const BLUE_GREEN_REQUIRED =
  "required with strategy blue-green: { activeColour, tags: { blue, green }, idleReplicas }";

/** Blue/green inputs; the state of the stack always says which colour serves. */
const blueGreenSchema = block(
  {
    /** The colour the stable Service sends traffic to; `ACTIVE_COLOUR_<ENV>` overrides it. */
    activeColour: colourSchema,
    /**
     * Image tag of each colour release; `IMAGE_TAG_<ENV>_BLUE` and `IMAGE_TAG_<ENV>_GREEN` override
     * them, and `IMAGE_TAG_<ENV>` sets the idle colour's (a deploy is a new tag in the idle colour).
     * The active colour needs a tag; an idle colour without one has no release (and no failover).
     */
    tags: block(
      { blue: imageTagSchema.optional(), green: imageTagSchema.optional() },
      "allowed: an object with a tag per colour: { blue, green }",
      "colour",
    ),
    /**
     * Pods the idle colour keeps for failover (its autoscaling floor too); at least 2, so its
     * PodDisruptionBudget still lets a node drain, and at most the active colour's floor.
     */
    idleReplicas: z
      .number(says(IDLE_REPLICAS))
      .refine((n) => Number.isInteger(n), says(IDLE_REPLICAS)),
  },
  'allowed: an object { activeColour, tags: { blue, green }, idleReplicas }, with strategy "blue-green" only',
);

/** Horizontal pod autoscaling on CPU; prod's floor is 2 replicas. */
function autoscalingSchema(env: EnvironmentName) {
  const min = env === "prod" ? 2 : 1;
  return block({
    enabled: flag(),
    minReplicas: whole(min, 100, `allowed: ${min}-100`),
    maxReplicas: whole(1, 100, "allowed: 1-100"),
    /** Target average CPU utilisation in percent of requests. */
    targetCpuUtilization: whole(10, 100, "allowed: 10-100 percent"),
  });
}

/** The API's settings in one environment (also a customer's settings merged onto them). */
export function apiSettingsSchema(env: EnvironmentName) {
  const min = env === "prod" ? 2 : 1;
  const schema = block(
    {
      /** Pod replicas when autoscaling is off, and the starting count when it is on. */
      replicas: whole(
        min,
        100,
        `allowed: ${min}-100${env === "prod" ? " (prod runs at least 2 replicas)" : ""}`,
      ),
      /** Horizontal pod autoscaling on CPU. */
      autoscaling: autoscalingSchema(env),
      /** Container requests and limits. */
      resources: withRule(
        block({ requests: resourceQuantitiesSchema, limits: resourceQuantitiesSchema }),
        (r, ok, report) => {
          for (const [kind, parse] of [
            ["cpu", parseCpu],
            ["memory", parseMemory],
          ] as const) {
            if (!ok("requests", kind) || !ok("limits", kind)) continue;
            if (parse(r.limits[kind])! < parse(r.requests[kind])!) {
              report(
                ["limits", kind],
                r.limits[kind],
                `must be at least the request (${r.requests[kind]})`,
              );
            }
          }
        },
      ),
      /** How the API is exposed. */
      service: block({
        /** `ClusterIP` (inside the cluster only) or `LoadBalancer` (an AWS NLB). */
        type: oneOf(["ClusterIP", "LoadBalancer"]),
        /** NLB scheme when `type` is `LoadBalancer`. */
        scheme: oneOf(["internal", "internet-facing"]),
        /** CIDRs allowed to reach an internet-facing load balancer; empty means anywhere. */
        sourceRanges: z.array(
          cidr("allowed: an IPv4 network in CIDR notation"),
          says("allowed: a list of CIDRs (empty for anywhere)"),
        ),
      }),
      /** The API's log level. */
      logLevel: oneOf(
        ["fatal", "error", "warn", "info", "debug", "trace"],
        "allowed: fatal, error, warn, info, debug or trace",
      ),
      /**
       * Image tag deployed; `IMAGE_TAG_<ENV>` overrides it. With `strategy: "blue-green"` the resolved
       * configuration carries the active colour's tag here (customer releases follow it).
       */
      imageTag: imageTagSchema,
      /**
       * How long Helm waits for the release to become ready before rolling back, in seconds. Leave
       * room for image pulls and node scale-up on a real cluster; the committed values are 300/600.
       */
      helmTimeoutSeconds: whole(30, 3600, "allowed: 30-3600 seconds"),
      /**
       * How a new version reaches traffic: `rolling` upgrades the one release in place; `blue-green`
       * runs two colour releases and moves a stable Service between them (docs/blue-green.md).
       * @default "rolling"
       */
      strategy: oneOf(
        DEPLOY_STRATEGIES,
        `allowed: ${DEPLOY_STRATEGIES.map((s) => `"${s}"`).join(" or ")} (default "rolling")`,
      ).optional(),
      /** The colours' inputs; required when `strategy` is `blue-green`, refused otherwise. */
      blueGreen: blueGreenSchema.optional(),
    },
    "an api block is required",
  );
  return withRule(schema, (api, ok, report) => {
    const as = api.autoscaling;
    if (ok("autoscaling") && as.enabled) {
      if (as.minReplicas > as.maxReplicas) {
        report(
          ["autoscaling", "minReplicas"],
          as.minReplicas,
          `must not exceed autoscaling.maxReplicas (${as.maxReplicas})`,
        );
      }
      if (
        typeof api.replicas === "number" &&
        (api.replicas < as.minReplicas || api.replicas > as.maxReplicas)
      ) {
        report(
          ["replicas"],
          api.replicas,
          `allowed: within the autoscaling bounds [${as.minReplicas}, ${as.maxReplicas}]`,
        );
      }
    }
    if (!ok("strategy")) return;
    const bg = api.blueGreen;
    if ((api.strategy ?? "rolling") === "rolling") {
      if (bg !== undefined) {
        report(
          ["blueGreen"],
          bg,
          'only with strategy "blue-green"; remove it, or set strategy: "blue-green"',
        );
      }
      return;
    }
    if (bg === undefined) {
      report(["blueGreen"], bg, BLUE_GREEN_REQUIRED);
      return;
    }
    // An idle colour without a tag has no release yet; the active colour must have one.
    if (ok("blueGreen", "activeColour") && ok("blueGreen", "tags") && isRecord(bg.tags)) {
      if (bg.tags[bg.activeColour] === undefined) {
        report(["blueGreen", "tags", bg.activeColour], undefined, IMAGE_TAG_ALLOWED);
      }
    }
    const floor = as?.enabled ? as.minReplicas : api.replicas;
    if (
      ok("blueGreen", "idleReplicas") &&
      typeof floor === "number" &&
      (bg.idleReplicas < 2 || bg.idleReplicas > Math.max(2, floor))
    ) {
      report(
        ["blueGreen", "idleReplicas"],
        bg.idleReplicas,
        `allowed: 2 to the active colour's floor (${floor}); 2 keeps a node drain possible under the PodDisruptionBudget`,
      );
    }
  });
}

/** One application environment; its `name` must be its key. */
function environmentSchema(name: EnvironmentName) {
  return block(
    {
      name: oneOf(ENVIRONMENTS, `must be "${name}"`).refine((n) => n === name, `must be "${name}"`),
      /** The node group that runs only this environment's workloads (labelled with `WORKLOAD_ENV_LABEL` from `config/names.ts`). */
      nodeGroup: nodeGroupSchema(name),
      /** Off-hours schedule for this environment's node group, if any. */
      offHours: offHoursScheduleSchema.optional(),
      api: apiSettingsSchema(name),
    },
    "every environment needs a block",
  );
}

// ---------------------------------------------------------------------------------------------
// Settings shared by every workspace.

const LOG_RETENTION_ALLOWED = `allowed: a CloudWatch retention period, one of ${LOG_RETENTION_DAYS.join(", ")}`;

const sharedSchema = withRule(
  block({
    /** Short lower-case name used as a prefix for every resource. */
    project: text(
      "allowed: 3-20 lower-case letters, digits and hyphens, starting with a letter",
      (p) => /^[a-z][a-z0-9-]{1,18}[a-z0-9]$/.test(p),
    ),
    /** AWS region, for example `eu-west-1`. */
    region: text("allowed: an AWS region code such as eu-west-1", (r) =>
      /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/.test(r),
    ),
    /** If set, every stack refuses to run against another AWS account. */
    accountId: text("allowed: a 12-digit AWS account id, or leave it unset", (a) =>
      /^\d{12}$/.test(a),
    ).optional(),
    /** GitHub repository (`owner/name`) whose workflows may assume the CI roles. */
    githubRepository: text(
      "allowed: owner/name of a GitHub repository, without wildcards",
      (r) =>
        /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/.test(r) &&
        !r.endsWith("/.") &&
        !r.includes("*"),
    ),
    /** Globally unique S3 bucket name for Terraform state. */
    stateBucket: text(
      "allowed: an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)",
      (b) =>
        /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b) &&
        !b.includes("..") &&
        !/^\d+\.\d+\.\d+\.\d+$/.test(b),
    ),
    /** VPC CIDR block, /16 to /20, outside the Kubernetes Service range. */
    vpcCidr: text(
      "allowed: an IPv4 network in CIDR notation with a prefix from /16 to /20, e.g. 10.40.0.0/16",
      (c) => (parseCidr(c)?.prefix ?? 0) >= 16 && parseCidr(c)!.prefix <= 20,
      [
        (c) => !cidrsOverlap(parseCidr(c)!, parseCidr(SERVICE_IPV4_CIDR)!),
        `must not overlap the Kubernetes service range ${SERVICE_IPV4_CIDR}`,
      ],
    ),
    /** Availability zones to span (2 to 6). */
    azCount: whole(
      2,
      6,
      "allowed: a whole number from 2 to 6 (EKS needs subnets in at least two zones)",
    ),
    /**
     * Pin the zones by name (`eu-west-1a`, ...), exactly `azCount` of them in the configured region.
     * Unset: the first `azCount` zones the region offers without opt-in, in name order.
     * @default undefined
     */
    availabilityZones: z
      .array(
        text("allowed: a zone name such as eu-west-1a"),
        says("allowed: a list of zone names, or leave it unset"),
      )
      .optional(),
    /** `single` NAT gateway (cheaper) or `per-az` (survives the loss of a zone). */
    natMode: oneOf(["single", "per-az"]),
    /** EKS Kubernetes minor version. */
    kubernetesVersion: text(`allowed: one of ${SUPPORTED_KUBERNETES_VERSIONS.join(", ")}`, (v) =>
      (SUPPORTED_KUBERNETES_VERSIONS as readonly string[]).includes(v),
    ),
    /** CIDRs allowed to reach the public cluster endpoint; empty keeps the endpoint private only. */
    publicEndpointCidrs: withRule(
      z.array(
        cidr(
          "allowed: an IPv4 network in CIDR notation narrower than 0.0.0.0/0",
          (c) => c.prefix > 0,
        ),
        says("allowed: a list of CIDRs (empty keeps the endpoint private)"),
      ),
      (cidrs, ok, report) => {
        const parsed = cidrs.map((c, i) => (ok(i) ? parseCidr(c) : undefined));
        parsed.forEach((network, i) => {
          const overlapping = network
            ? parsed.findIndex((other, j) => j < i && other && cidrsOverlap(other, network))
            : -1;
          if (overlapping >= 0) {
            report([i], cidrs[i], `must not overlap publicEndpointCidrs[${overlapping}]`);
          }
        });
      },
    ),
    /** IAM role ARNs given cluster-admin through access entries. */
    clusterAdminRoleArns: z.array(
      text("allowed: an IAM role ARN, arn:aws:iam::<12 digits>:role/<name>", (arn) =>
        /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/.test(arn),
      ),
      says("allowed: a list of IAM role ARNs"),
    ),
    /** The always-on node group for cluster add-ons. */
    systemNodeGroup: nodeGroupSchema(),
    /**
     * CloudWatch retention for VPC flow logs and control-plane logs, in days (one of CloudWatch's
     * periods). Below 365 trips checkov's CKV_AWS_338; storage is the smaller part of the log bill.
     * @default 365
     */
    logRetentionDays: z
      .number(says(LOG_RETENTION_ALLOWED))
      .refine((days) => LOG_RETENTION_DAYS.includes(days), says(LOG_RETENTION_ALLOWED)),
    /** How many `sha-*` images the registry keeps. */
    keepShaImages: whole(1, 1000, "allowed: a whole number from 1 to 1000"),
    /** Image tags that may be overwritten and so never deploy (`latest` always included). */
    mutableTags: z.array(
      text("allowed: an OCI tag", (tag) => OCI_TAG.test(tag)),
      says("allowed: a list of OCI tags"),
    ),
    /**
     * Keep the bootstrap workspace's own state in the state bucket (key `bootstrap/terraform.tfstate`)
     * instead of a local file. Turn on only after the first apply, then run
     * `terraform init -migrate-state` in its folder.
     * @default false
     */
    bootstrapStateInBucket: flag("allowed: true or false (default false: local state)").optional(),
    /** Days a noncurrent state object version is kept. */
    stateVersionRetentionDays: whole(1, 3650, "allowed: a whole number of days from 1 to 3650"),
    /**
     * Namespace of an in-cluster Prometheus that scrapes the API's `/metrics`. Every API release's
     * network policy (the environment's own and each customer's) then admits that namespace's pods
     * to the API port, beside the load balancer's subnets. Unset: nothing in the cluster is
     * admitted. The API's own namespaces (`api-<env>`, `api-<env>-<customer>`) are refused: admitting
     * one would open every API release to an environment's or a customer's pods.
     * @default undefined
     */
    monitoringNamespace: text(
      "allowed: a Kubernetes namespace name (1-63 lower-case letters, digits and hyphens) outside the API's own api-* namespaces, or leave it unset",
      (ns) => NAMESPACE_NAME.test(ns) && !ns.startsWith("api-"),
    ).optional(),
  }),
  (s, ok, report) => {
    const zones = s.availabilityZones;
    if (zones === undefined || !ok("availabilityZones")) return;
    if (ok("azCount") && (zones.length !== s.azCount || new Set(zones).size !== zones.length)) {
      report(
        ["availabilityZones"],
        zones,
        `allowed: exactly azCount (${s.azCount}) distinct zone names, or leave it unset`,
      );
    }
    if (!ok("region")) return;
    zones.forEach((zone, i) => {
      if (zone.length !== s.region.length + 1 || !zone.startsWith(s.region)) {
        report(
          ["availabilityZones", i],
          zone,
          `allowed: a zone of ${s.region}, its name followed by one letter (${s.region}a)`,
        );
      }
    });
  },
);

// ---------------------------------------------------------------------------------------------
// Customers.

/**
 * What a customer changes about the API in one environment. Anything left out is the environment's
 * own setting (`environments.<env>.api`); the image tag is always the environment's.
 */
function customerEnvironmentSchema(env: EnvironmentName) {
  return block(
    {
      /** Whether the customer has a workspace (namespace and release) in this environment. */
      enabled: flag(),
      /** Pod replicas; within the environment's bounds (prod at least 2). */
      replicas: whole(1, 100, "allowed: a whole number from 1 to 100").optional(),
      /** Autoscaling fields to change; the rest come from the environment. */
      autoscaling: autoscalingSchema(env).partial().optional(),
      /** Requests and limits to change; the rest come from the environment. */
      resources: block({
        requests: resourceQuantitiesSchema.partial().optional(),
        limits: resourceQuantitiesSchema.partial().optional(),
      }).optional(),
      /** Greeting the API serves at `/` for this customer (at most 256 printable characters). */
      message: text(
        "allowed: at most 256 printable characters (no control characters)",
        (m) => m.length <= 256 && !hasControlCharacter(m),
      ).optional(),
      /**
       * DNS name the customer reaches the API at; announced on the Service for external-dns and used in
       * the `customer_service_urls` output. Unset: the load balancer's own hostname.
       */
      hostname: text(
        "allowed: a lower-case DNS name with at least two labels, such as acme.api.example.com",
        isDnsName,
      ).optional(),
    },
    "allowed: an object",
  );
}

const customerIdAllowed =
  `allowed: a DNS label of 1-${MAX_CUSTOMER_ID_LENGTH} lower-case letters, digits and hyphens, ` +
  `starting and ending with a letter or digit, so that api-<env>-<id> fits a namespace name (63)`;

/** A customer with an exclusive, isolated workspace (`api-<env>-<id>`) in each enabled environment. */
const customerSchema = block(
  {
    /** DNS label (lower-case letters, digits, hyphens); names the namespace and construct ids. */
    id: text(customerIdAllowed, (id) => DNS_LABEL.test(id) && id.length <= MAX_CUSTOMER_ID_LENGTH, [
      (id) => !RESERVED_CUSTOMER_IDS.includes(id) && !id.startsWith("kube-"),
      `reserved: not one of ${RESERVED_CUSTOMER_IDS.join(", ")}, nor kube-*`,
    ]),
    /** Human-readable name, shown in plan comments and docs. */
    displayName: text(
      "allowed: 1-64 printable characters",
      (name) => name.trim().length > 0 && name.length <= 64 && !hasControlCharacter(name),
    ),
    /** Per-environment enablement and overrides; an environment left out is disabled. */
    environments: block(
      {
        dev: customerEnvironmentSchema("dev").optional(),
        prod: customerEnvironmentSchema("prod").optional(),
      },
      `allowed: an object keyed by environment (${ENVIRONMENTS.join(", ")})`,
    ),
  },
  "allowed: an object",
);

const customersSchema = withRule(
  z.array(customerSchema, says("allowed: a list of customers (empty for none)")),
  (customers, ok, report) => {
    const labels = customerLabels(customers);
    const ids = new Map<string, number>();
    const hostnames = new Map<string, string>();
    customers.forEach((customer, i) => {
      if (ok(i, "id")) {
        const first = ids.get(customer.id);
        if (first !== undefined) {
          report([i, "id"], customer.id, `must be unique: customers[${first}] has the same id`);
        } else ids.set(customer.id, i);
      }
      for (const env of ENVIRONMENTS) {
        const o = ok(i, "environments", env) ? customer.environments[env] : undefined;
        if (o?.enabled !== true || o.hostname === undefined) continue;
        const owner = hostnames.get(`${env}/${o.hostname}`);
        if (owner !== undefined) {
          report(
            [i, "environments", env, "hostname"],
            o.hostname,
            `must be unique within ${env}: ${owner} uses it too`,
          );
        } else hostnames.set(`${env}/${o.hostname}`, labels[i]);
      }
    });
  },
);

// ---------------------------------------------------------------------------------------------
// The whole.

/** Fields of the API settings a customer may override; issues on other fields are the environment's. */
const OVERRIDABLE = ["replicas", "autoscaling", "resources"];

/** The committed settings: everything but the environment overrides. */
export const platformSettingsSchema = withRule(
  block({
    shared: sharedSchema,
    environments: block(
      { dev: environmentSchema("dev"), prod: environmentSchema("prod") },
      `allowed: an object with a block per environment (${ENVIRONMENTS.join(", ")})`,
    ),
    /**
     * Customers, each with its own workspace per enabled environment (docs/customers.md).
     * @default []
     */
    customers: customersSchema.optional(),
  }),
  (settings, ok, report) => {
    // Image tags: never a mutable one (shared.mutableTags, and latest always).
    const mutableTags = ok("shared", "mutableTags") ? settings.shared.mutableTags : [];
    for (const env of ENVIRONMENTS) {
      const api = settings.environments?.[env]?.api;
      const tags: Array<[PropertyKey[], unknown]> = [
        [["imageTag"], api?.imageTag],
        ...COLOURS.map((c): [PropertyKey[], unknown] => [
          ["blueGreen", "tags", c],
          api?.blueGreen?.tags?.[c],
        ]),
      ];
      for (const [path, tag] of tags) {
        const at = ["environments", env, "api", ...path];
        const problem = typeof tag === "string" && ok(...at) && mutableTagProblem(tag, mutableTags);
        if (problem) report(at, tag, problem);
      }
    }

    (Array.isArray(settings.customers) ? settings.customers : []).forEach((customer, i) => {
      for (const env of ENVIRONMENTS) {
        const overrides = customer?.environments?.[env];
        const at = ["customers", i, "environments", env];
        if (!isRecord(overrides)) continue;
        // The workspace's NetworkPolicy admits the public subnets only, where an internet-facing NLB
        // lives; an internal NLB (private subnets) or a ClusterIP Service could never reach the pods.
        const base = settings.environments?.[env]?.api;
        const service = base?.service;
        if (
          overrides.enabled === true &&
          isRecord(service) &&
          !(service.type === "LoadBalancer" && service.scheme === "internet-facing")
        ) {
          report(
            [...at, "enabled"],
            overrides.enabled,
            `needs environments.${env}.api.service to be an internet-facing LoadBalancer ` +
              `(got ${service.type}, ${service.scheme}): workspaces admit traffic only from the public subnets`,
          );
        }
        // The merged settings must satisfy the environment's own rules (prod replicas >= 2, limits
        // >= requests, autoscaling bounds). Checked only when the fields merged are valid on both
        // sides, and only for fields no other issue names, so each problem is reported once, where
        // it was made.
        const mergeable = (key: string) => ok("environments", env, "api", key) && ok(...at, key);
        if (!OVERRIDABLE.every(mergeable)) continue;
        const merged = apiSettingsSchema(env).safeParse(customerApiSettings(base!, overrides), {
          reportInput: true,
        });
        for (const issue of merged.error?.issues ?? []) {
          const [head] = issue.path;
          const overridable =
            head === "replicas" || (OVERRIDABLE.includes(String(head)) && issue.path.length > 1);
          const path = [...at, ...issue.path];
          if (overridable && issue.code !== "unrecognized_keys" && ok(...path)) {
            report(path, issue.input, issue.message);
          }
        }
      }
    });
  },
);

// ---------------------------------------------------------------------------------------------
// The types, as the schema infers them, read-only throughout.

type DeepReadonly<T> = T extends readonly (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;
type Infer<S extends z.ZodType> = DeepReadonly<z.output<S>>;

/** The committed settings: shared, per environment, customers. */
export type PlatformSettings = Infer<typeof platformSettingsSchema>;
/** Settings shared by every workspace. */
export type SharedConfig = Infer<typeof sharedSchema>;
/** A managed node group's size and machines. */
export type NodeGroupConfig = Infer<ReturnType<typeof nodeGroupSchema>>;
/** Scale a node group to zero outside working hours. */
export type OffHoursScheduleConfig = Infer<typeof offHoursScheduleSchema>;
/** CPU and memory in Kubernetes quantity notation (`250m`, `1`, `256Mi`, `1Gi`). */
export type ResourceQuantities = Infer<typeof resourceQuantitiesSchema>;
/** The API's settings in one environment. */
export type ApiSettings = Infer<ReturnType<typeof apiSettingsSchema>>;
/** Blue/green inputs; the state of the stack always says which colour serves. */
export type BlueGreenSettings = Infer<typeof blueGreenSchema>;
/** One application environment. */
export type EnvironmentConfig = Infer<ReturnType<typeof environmentSchema>>;
/** What a customer changes about the API in one environment. */
export type CustomerEnvironmentSettings = Infer<ReturnType<typeof customerEnvironmentSchema>>;
/** A customer with an exclusive, isolated workspace (`api-<env>-<id>`) in each enabled environment. */
export type CustomerConfig = Infer<typeof customerSchema>;

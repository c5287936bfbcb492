import {
  cidrsOverlap,
  cronProblem,
  INSTANCE_TYPE,
  isIntIn,
  Issues,
  isTimeZone,
  LOG_RETENTION_DAYS,
  NAMESPACE_NAME,
  OCI_TAG,
  parseCidr,
  parseCpu,
  parseMemory,
} from "./rules";
import {
  ENVIRONMENTS,
  SUPPORTED_KUBERNETES_VERSIONS,
  COLOURS,
  DEPLOY_STRATEGIES,
  type ApiSettings,
  type NodeGroupConfig,
  type OffHoursScheduleConfig,
  type PlatformSettings,
} from "./types";

/** The address range EKS assigns to Kubernetes Services; the VPC must not overlap it. */
export const SERVICE_IPV4_CIDR = "172.20.0.0/16";

/** Validates the committed settings; every problem is added to `issues`. */
export function validateSettings(settings: PlatformSettings, issues: Issues): void {
  const s = settings.shared;
  const at = (field: string) => `shared.${field}`;

  issues.check(
    typeof s.project === "string" && /^[a-z][a-z0-9-]{1,18}[a-z0-9]$/.test(s.project),
    at("project"),
    s.project,
    "allowed: 3-20 lower-case letters, digits and hyphens, starting with a letter",
  );
  issues.check(
    typeof s.region === "string" && /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/.test(s.region),
    at("region"),
    s.region,
    "allowed: an AWS region code such as eu-west-1",
  );
  if (s.accountId !== undefined) {
    issues.check(
      /^\d{12}$/.test(s.accountId),
      at("accountId"),
      s.accountId,
      "allowed: a 12-digit AWS account id, or leave it unset",
    );
  }
  issues.check(
    typeof s.githubRepository === "string" &&
      /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/.test(s.githubRepository) &&
      !s.githubRepository.endsWith("/.") &&
      !s.githubRepository.includes("*"),
    at("githubRepository"),
    s.githubRepository,
    "allowed: owner/name of a GitHub repository, without wildcards",
  );
  issues.check(
    typeof s.stateBucket === "string" &&
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(s.stateBucket) &&
      !s.stateBucket.includes("..") &&
      !/^\d+\.\d+\.\d+\.\d+$/.test(s.stateBucket),
    at("stateBucket"),
    s.stateBucket,
    "allowed: an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)",
  );

  const vpc = parseCidr(s.vpcCidr);
  if (
    issues.check(
      vpc !== undefined && vpc.prefix >= 16 && vpc.prefix <= 20,
      at("vpcCidr"),
      s.vpcCidr,
      "allowed: an IPv4 network in CIDR notation with a prefix from /16 to /20, e.g. 10.40.0.0/16",
    ) &&
    vpc
  ) {
    issues.check(
      !cidrsOverlap(vpc, parseCidr(SERVICE_IPV4_CIDR)!),
      at("vpcCidr"),
      s.vpcCidr,
      `must not overlap the Kubernetes service range ${SERVICE_IPV4_CIDR}`,
    );
  }
  issues.check(
    isIntIn(s.azCount, 2, 6),
    at("azCount"),
    s.azCount,
    "allowed: a whole number from 2 to 6 (EKS needs subnets in at least two zones)",
  );
  if (s.availabilityZones !== undefined) {
    const zones = Array.isArray(s.availabilityZones) ? s.availabilityZones : [];
    issues.check(
      zones.length === s.azCount && new Set(zones).size === zones.length,
      at("availabilityZones"),
      s.availabilityZones,
      `allowed: exactly azCount (${s.azCount}) distinct zone names, or leave it unset`,
    );
    zones.forEach((zone, i) =>
      issues.check(
        typeof zone === "string" &&
          zone.length === s.region.length + 1 &&
          zone.startsWith(s.region),
        at(`availabilityZones[${i}]`),
        zone,
        `allowed: a zone of ${s.region}, its name followed by one letter (${s.region}a)`,
      ),
    );
  }
  issues.check(
    s.natMode === "single" || s.natMode === "per-az",
    at("natMode"),
    s.natMode,
    'allowed: "single" or "per-az"',
  );
  issues.check(
    (SUPPORTED_KUBERNETES_VERSIONS as readonly string[]).includes(s.kubernetesVersion),
    at("kubernetesVersion"),
    s.kubernetesVersion,
    `allowed: one of ${SUPPORTED_KUBERNETES_VERSIONS.join(", ")}`,
  );

  const endpoints = Array.isArray(s.publicEndpointCidrs) ? s.publicEndpointCidrs : [];
  issues.check(
    Array.isArray(s.publicEndpointCidrs),
    at("publicEndpointCidrs"),
    s.publicEndpointCidrs,
    "allowed: a list of CIDRs (empty keeps the endpoint private)",
  );
  const parsedEndpoints: Array<{ network: number; prefix: number }> = [];
  endpoints.forEach((cidr, i) => {
    const parsed = parseCidr(cidr);
    if (
      !issues.check(
        parsed !== undefined && parsed.prefix > 0,
        at(`publicEndpointCidrs[${i}]`),
        cidr,
        "allowed: an IPv4 network in CIDR notation narrower than 0.0.0.0/0",
      )
    ) {
      return;
    }
    const overlapping = parsedEndpoints.findIndex((p) => cidrsOverlap(p, parsed!));
    issues.check(
      overlapping < 0,
      at(`publicEndpointCidrs[${i}]`),
      cidr,
      `must not overlap publicEndpointCidrs[${overlapping}]`,
    );
    parsedEndpoints.push(parsed!);
  });

  (s.clusterAdminRoleArns ?? []).forEach((arn, i) =>
    issues.check(
      /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/.test(arn),
      at(`clusterAdminRoleArns[${i}]`),
      arn,
      "allowed: an IAM role ARN, arn:aws:iam::<12 digits>:role/<name>",
    ),
  );
  validateNodeGroup(s.systemNodeGroup, at("systemNodeGroup"), issues);
  issues.check(
    LOG_RETENTION_DAYS.includes(s.logRetentionDays),
    at("logRetentionDays"),
    s.logRetentionDays,
    `allowed: a CloudWatch retention period, one of ${LOG_RETENTION_DAYS.join(", ")}`,
  );
  issues.check(
    isIntIn(s.keepShaImages, 1, 1000),
    at("keepShaImages"),
    s.keepShaImages,
    "allowed: a whole number from 1 to 1000",
  );
  if (s.bootstrapStateInBucket !== undefined) {
    issues.check(
      typeof s.bootstrapStateInBucket === "boolean",
      at("bootstrapStateInBucket"),
      s.bootstrapStateInBucket,
      "allowed: true or false (default false: local state)",
    );
  }
  issues.check(
    isIntIn(s.stateVersionRetentionDays, 1, 3650),
    at("stateVersionRetentionDays"),
    s.stateVersionRetentionDays,
    "allowed: a whole number of days from 1 to 3650",
  );
  if (s.monitoringNamespace !== undefined) {
    // The API's own namespaces are api-<env> and api-<env>-<customer>: admitting one of them would
    // open every API release to an environment's or a customer's pods.
    issues.check(
      typeof s.monitoringNamespace === "string" &&
        NAMESPACE_NAME.test(s.monitoringNamespace) &&
        !s.monitoringNamespace.startsWith("api-"),
      at("monitoringNamespace"),
      s.monitoringNamespace,
      "allowed: a Kubernetes namespace name (1-63 lower-case letters, digits and hyphens) outside the API's own api-* namespaces, or leave it unset",
    );
  }
  (s.mutableTags ?? []).forEach((tag, i) =>
    issues.check(
      typeof tag === "string" && OCI_TAG.test(tag),
      at(`mutableTags[${i}]`),
      tag,
      "allowed: an OCI tag",
    ),
  );

  for (const name of ENVIRONMENTS) {
    const env = settings.environments[name];
    const base = `environments.${name}`;
    if (!issues.check(env !== undefined, base, env, "every environment needs a block")) continue;
    issues.check(env.name === name, `${base}.name`, env.name, `must be "${name}"`);
    validateNodeGroup(env.nodeGroup, `${base}.nodeGroup`, issues);
    if (name === "prod") {
      issues.check(
        env.nodeGroup.minSize >= 2,
        `${base}.nodeGroup.minSize`,
        env.nodeGroup.minSize,
        "allowed: at least 2 in prod, so losing one node keeps the API up",
      );
    }
    if (env.offHours) validateOffHours(env.offHours, `${base}.offHours`, issues);
    validateApi(env.api, name, `${base}.api`, settings.shared.mutableTags ?? [], issues);
  }
}

function validateNodeGroup(group: NodeGroupConfig, at: string, issues: Issues): void {
  if (!issues.check(group !== undefined, at, group, "a node group block is required")) return;
  const types = Array.isArray(group.instanceTypes) ? group.instanceTypes : [];
  issues.check(
    types.length >= 1 && types.length <= 20,
    `${at}.instanceTypes`,
    group.instanceTypes,
    "allowed: a list of 1 to 20 EC2 instance types",
  );
  types.forEach((t, i) =>
    issues.check(
      typeof t === "string" && INSTANCE_TYPE.test(t),
      `${at}.instanceTypes[${i}]`,
      t,
      "allowed: an EC2 instance type such as m6i.large or t3.xlarge",
    ),
  );
  issues.check(
    group.capacityType === "ON_DEMAND" || group.capacityType === "SPOT",
    `${at}.capacityType`,
    group.capacityType,
    'allowed: "ON_DEMAND" or "SPOT"',
  );
  const sizesOk = [
    issues.check(
      isIntIn(group.minSize, 0, 1000),
      `${at}.minSize`,
      group.minSize,
      "allowed: 0-1000",
    ),
    issues.check(
      isIntIn(group.maxSize, 1, 1000),
      `${at}.maxSize`,
      group.maxSize,
      "allowed: 1-1000",
    ),
    issues.check(
      isIntIn(group.desiredSize, 0, 1000),
      `${at}.desiredSize`,
      group.desiredSize,
      "allowed: 0-1000",
    ),
  ].every(Boolean);
  if (sizesOk) {
    issues.check(
      group.minSize <= group.maxSize,
      `${at}.minSize`,
      group.minSize,
      `must not exceed maxSize (${group.maxSize})`,
    );
    issues.check(
      group.desiredSize >= group.minSize && group.desiredSize <= group.maxSize,
      `${at}.desiredSize`,
      group.desiredSize,
      `allowed: within [minSize, maxSize] = [${group.minSize}, ${group.maxSize}]`,
    );
  }
  issues.check(
    isIntIn(group.diskSizeGiB, 20, 16384),
    `${at}.diskSizeGiB`,
    group.diskSizeGiB,
    "allowed: 20-16384 GiB",
  );
}

function validateOffHours(schedule: OffHoursScheduleConfig, at: string, issues: Issues): void {
  issues.check(
    typeof schedule.enabled === "boolean",
    `${at}.enabled`,
    schedule.enabled,
    "allowed: true or false",
  );
  for (const key of ["scaleDownCron", "scaleUpCron"] as const) {
    const problem = cronProblem(schedule[key]);
    issues.check(
      problem === undefined,
      `${at}.${key}`,
      schedule[key],
      `allowed: a five-field cron expression such as "0 20 * * 1-5" (${problem})`,
    );
  }
  issues.check(
    isTimeZone(schedule.timeZone),
    `${at}.timeZone`,
    schedule.timeZone,
    "allowed: an IANA time zone such as Europe/Dublin or UTC",
  );
}

/** Validates an image tag from config or the environment; `field` names where it came from. */
export function validateImageTag(
  tag: unknown,
  field: string,
  mutableTags: readonly string[],
  issues: Issues,
): void {
  if (
    !issues.check(
      typeof tag === "string" && OCI_TAG.test(tag),
      field,
      tag,
      "allowed: an OCI tag matching [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, such as sha-<commit> or release-1.2.3",
    )
  ) {
    return;
  }
  const mutable = new Set(["latest", ...mutableTags]);
  issues.check(
    !mutable.has(tag as string),
    field,
    tag,
    `a mutable tag (${[...mutable].join(", ")}) never deploys: use sha-<commit> or release-<semver>`,
  );
}

/** Validates one environment's API settings (also a customer's settings merged onto them). */
export function validateApi(
  api: ApiSettings,
  env: string,
  at: string,
  mutableTags: readonly string[],
  issues: Issues,
): void {
  if (!issues.check(api !== undefined, at, api, "an api block is required")) return;
  const minReplicas = env === "prod" ? 2 : 1;
  issues.check(
    isIntIn(api.replicas, minReplicas, 100),
    `${at}.replicas`,
    api.replicas,
    `allowed: ${minReplicas}-100${env === "prod" ? " (prod runs at least 2 replicas)" : ""}`,
  );
  const as = api.autoscaling;
  if (as?.enabled) {
    const ok = [
      issues.check(
        isIntIn(as.minReplicas, minReplicas, 100),
        `${at}.autoscaling.minReplicas`,
        as.minReplicas,
        `allowed: ${minReplicas}-100`,
      ),
      issues.check(
        isIntIn(as.maxReplicas, 1, 100),
        `${at}.autoscaling.maxReplicas`,
        as.maxReplicas,
        "allowed: 1-100",
      ),
    ].every(Boolean);
    if (ok) {
      issues.check(
        as.minReplicas <= as.maxReplicas,
        `${at}.autoscaling.minReplicas`,
        as.minReplicas,
        `must not exceed autoscaling.maxReplicas (${as.maxReplicas})`,
      );
      issues.check(
        api.replicas >= as.minReplicas && api.replicas <= as.maxReplicas,
        `${at}.replicas`,
        api.replicas,
        `allowed: within the autoscaling bounds [${as.minReplicas}, ${as.maxReplicas}]`,
      );
    }
    issues.check(
      isIntIn(as.targetCpuUtilization, 10, 100),
      `${at}.autoscaling.targetCpuUtilization`,
      as.targetCpuUtilization,
      "allowed: 10-100 percent",
    );
  }

  const r = api.resources;
  for (const kind of ["requests", "limits"] as const) {
    const cpuOk = issues.check(
      parseCpu(r?.[kind]?.cpu) !== undefined,
      `${at}.resources.${kind}.cpu`,
      r?.[kind]?.cpu,
      'allowed: a positive CPU quantity such as "250m" or "1"',
    );
    const memOk = issues.check(
      parseMemory(r?.[kind]?.memory) !== undefined,
      `${at}.resources.${kind}.memory`,
      r?.[kind]?.memory,
      'allowed: a positive memory quantity with a unit such as "256Mi" or "1Gi"',
    );
    if (kind === "limits" && cpuOk && memOk) {
      const reqCpu = parseCpu(r.requests.cpu);
      const reqMem = parseMemory(r.requests.memory);
      if (reqCpu !== undefined) {
        issues.check(
          parseCpu(r.limits.cpu)! >= reqCpu,
          `${at}.resources.limits.cpu`,
          r.limits.cpu,
          `must be at least the request (${r.requests.cpu})`,
        );
      }
      if (reqMem !== undefined) {
        issues.check(
          parseMemory(r.limits.memory)! >= reqMem,
          `${at}.resources.limits.memory`,
          r.limits.memory,
          `must be at least the request (${r.requests.memory})`,
        );
      }
    }
  }

  issues.check(
    api.service?.type === "ClusterIP" || api.service?.type === "LoadBalancer",
    `${at}.service.type`,
    api.service?.type,
    'allowed: "ClusterIP" or "LoadBalancer"',
  );
  issues.check(
    api.service?.scheme === "internal" || api.service?.scheme === "internet-facing",
    `${at}.service.scheme`,
    api.service?.scheme,
    'allowed: "internal" or "internet-facing"',
  );
  (api.service?.sourceRanges ?? []).forEach((cidr, i) =>
    issues.check(
      parseCidr(cidr) !== undefined,
      `${at}.service.sourceRanges[${i}]`,
      cidr,
      "allowed: an IPv4 network in CIDR notation",
    ),
  );
  issues.check(
    ["fatal", "error", "warn", "info", "debug", "trace"].includes(api.logLevel),
    `${at}.logLevel`,
    api.logLevel,
    "allowed: fatal, error, warn, info, debug or trace",
  );
  validateImageTag(api.imageTag, `${at}.imageTag`, mutableTags, issues);
  validateStrategy(api, at, mutableTags, issues);
  issues.check(
    isIntIn(api.helmTimeoutSeconds, 60, 3600),
    `${at}.helmTimeoutSeconds`,
    api.helmTimeoutSeconds,
    "allowed: 60-3600 seconds",
  );
}

/** Validates an active colour from config or the environment; `field` names where it came from. */
export function validateColour(colour: unknown, field: string, issues: Issues): boolean {
  return issues.check(
    (COLOURS as readonly unknown[]).includes(colour),
    field,
    colour,
    `allowed: ${COLOURS.map((c) => `"${c}"`).join(" or ")}`,
  );
}

/** The deploy strategy and, for blue/green, the colours' inputs. */
function validateStrategy(
  api: ApiSettings,
  at: string,
  mutableTags: readonly string[],
  issues: Issues,
): void {
  const strategy = api.strategy ?? "rolling";
  if (
    !issues.check(
      (DEPLOY_STRATEGIES as readonly string[]).includes(strategy),
      `${at}.strategy`,
      api.strategy,
      `allowed: ${DEPLOY_STRATEGIES.map((s) => `"${s}"`).join(" or ")} (default "rolling")`,
    )
  ) {
    return;
  }
  const bg = api.blueGreen;
  if (strategy === "rolling") {
    issues.check(
      bg === undefined,
      `${at}.blueGreen`,
      bg,
      'only with strategy "blue-green"; remove it, or set strategy: "blue-green"',
    );
    return;
  }
  if (
    !issues.check(
      typeof bg === "object" && bg !== null,
      `${at}.blueGreen`,
      bg,
      "required with strategy blue-green: { activeColour, tags: { blue, green }, idleReplicas }",
    ) ||
    bg === undefined
  ) {
    return;
  }
  validateColour(bg.activeColour, `${at}.blueGreen.activeColour`, issues);
  const tags = (bg.tags ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(tags).filter((k) => !(COLOURS as readonly string[]).includes(k))) {
    issues.check(
      false,
      `${at}.blueGreen.tags.${key}`,
      tags[key],
      "unknown colour: allowed blue, green",
    );
  }
  for (const colour of COLOURS) {
    // An idle colour without a tag has no release yet; the active colour must have one.
    if (tags[colour] === undefined && colour !== bg.activeColour) continue;
    validateImageTag(tags[colour], `${at}.blueGreen.tags.${colour}`, mutableTags, issues);
  }
  const floor = api.autoscaling?.enabled ? api.autoscaling.minReplicas : api.replicas;
  issues.check(
    isIntIn(bg.idleReplicas, 2, Math.max(2, floor)),
    `${at}.blueGreen.idleReplicas`,
    bg.idleReplicas,
    `allowed: 2 to the active colour's floor (${floor}); 2 keeps a node drain possible under the PodDisruptionBudget`,
  );
}

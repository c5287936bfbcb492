/**
 * Configuration validation: bad settings and bad environment variables are rejected before any
 * construct exists, each with a message that names the field (or variable), the bad value and the
 * allowed form, and every problem of a configuration is reported at once.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, type PlatformSettings } from "../../config";
import { settings as committed } from "../../config/settings";
import { settingsCopy } from "../helpers/synth";

/** Settings with `readonly` removed, to break one field in a test. */
type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };
type Settings = Mutable<PlatformSettings>;

/** Loads settings changed by `mutate` with `env`, and returns the ConfigError it must throw. */
function rejection(mutate: (s: Settings) => void, env: Record<string, string> = {}): ConfigError {
  const s = settingsCopy() as Settings;
  mutate(s);
  try {
    loadConfig(env, s);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("the configuration was accepted");
}

const SHA = "0123456789abcdef0123456789abcdef01234567";

describe("the committed configuration", () => {
  it("loads without problems and without environment overrides", () => {
    const config = loadConfig({}, committed);
    expect(config.shared).toBe(committed.shared);
    expect(config.target).toEqual({ kind: "aws" });
    expect(config.gitSha).toBeUndefined();
    expect(config.appVersion).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("keeps logs for a year and pins no zones by default", () => {
    expect(committed.shared.logRetentionDays).toBe(365);
    expect(committed.shared.availabilityZones).toBeUndefined();
  });
});

// [case, change, the field the message must name, a fragment of the allowed form]
const badSettings: Array<[string, (s: Settings) => void, string, RegExp]> = [
  [
    "a monitoring namespace that is not a namespace name",
    (s) => (s.shared.monitoringNamespace = "Monitoring"),
    "shared.monitoringNamespace",
    /Kubernetes namespace name/,
  ],
  [
    "a monitoring namespace that is one of the API's own",
    (s) => (s.shared.monitoringNamespace = "api-dev-acme"),
    "shared.monitoringNamespace",
    /outside the API's own api-\* namespaces/,
  ],
  [
    "a VPC CIDR that does not parse",
    (s) => (s.shared.vpcCidr = "10.40.0/16"),
    "shared.vpcCidr",
    /CIDR/,
  ],
  [
    "a VPC CIDR with host bits set",
    (s) => (s.shared.vpcCidr = "10.40.0.1/16"),
    "shared.vpcCidr",
    /CIDR/,
  ],
  [
    "a VPC CIDR overlapping the service range",
    (s) => (s.shared.vpcCidr = "172.20.0.0/16"),
    "shared.vpcCidr",
    /overlap/,
  ],
  [
    "overlapping endpoint CIDRs",
    (s) => (s.shared.publicEndpointCidrs = ["203.0.113.0/24", "203.0.113.128/25"]),
    "shared.publicEndpointCidrs[1]",
    /overlap publicEndpointCidrs\[0\]/,
  ],
  ["fewer than 2 AZs", (s) => (s.shared.azCount = 1), "shared.azCount", /2 to 6/],
  [
    "pinned zones of another region",
    (s) => (s.shared.availabilityZones = ["eu-west-1a", "eu-west-1b", "us-east-1a"]),
    "shared.availabilityZones[2]",
    /zone of eu-west-1/,
  ],
  [
    "fewer pinned zones than azCount",
    (s) => (s.shared.availabilityZones = ["eu-west-1a", "eu-west-1b"]),
    "shared.availabilityZones",
    /exactly azCount \(3\)/,
  ],
  [
    "min > max",
    (s) => (s.shared.systemNodeGroup.minSize = 4),
    "shared.systemNodeGroup.minSize",
    /must not exceed maxSize \(3\)/,
  ],
  [
    "desired outside [min, max]",
    (s) => (s.environments.dev.nodeGroup.desiredSize = 5),
    "environments.dev.nodeGroup.desiredSize",
    /within \[minSize, maxSize\] = \[1, 3\]/,
  ],
  [
    "an unknown instance type format",
    (s) => (s.environments.dev.nodeGroup.instanceTypes = ["t3.large", "large"]),
    "environments.dev.nodeGroup.instanceTypes[1]",
    /EC2 instance type/,
  ],
  [
    "an unknown capacity type",
    (s) => ((s.environments.prod.nodeGroup as { capacityType: string }).capacityType = "RESERVED"),
    "environments.prod.nodeGroup.capacityType",
    /ON_DEMAND/,
  ],
  [
    "a bad cron expression",
    (s) => (s.environments.dev.offHours!.scaleDownCron = "0 25 * * 1-5"),
    "environments.dev.offHours.scaleDownCron",
    /bad hour/,
  ],
  [
    "a cron expression with six fields",
    (s) => (s.environments.dev.offHours!.scaleUpCron = "0 0 7 * * 1-5"),
    "environments.dev.offHours.scaleUpCron",
    /6 fields instead of 5/,
  ],
  [
    "a bad time zone",
    (s) => (s.environments.dev.offHours!.timeZone = "Mars/Olympus_Mons"),
    "environments.dev.offHours.timeZone",
    /IANA time zone/,
  ],
  [
    "an empty repository",
    (s) => (s.shared.githubRepository = ""),
    "shared.githubRepository",
    /owner\/name/,
  ],
  [
    "a repository without an owner",
    (s) => (s.shared.githubRepository = "eks-api-platform"),
    "shared.githubRepository",
    /owner\/name/,
  ],
  [
    "a wildcard repository",
    (s) => (s.shared.githubRepository = "example-org/*"),
    "shared.githubRepository",
    /without wildcards/,
  ],
  [
    "a Kubernetes version below the supported window",
    (s) => (s.shared.kubernetesVersion = "1.33"),
    "shared.kubernetesVersion",
    /one of 1\.34, 1\.35, 1\.36$/,
  ],
  [
    "a Kubernetes version above the supported window",
    (s) => (s.shared.kubernetesVersion = "1.40"),
    "shared.kubernetesVersion",
    /one of 1\.34, 1\.35, 1\.36$/,
  ],
  [
    "one replica in prod",
    (s) => {
      s.environments.prod.api.replicas = 1;
      s.environments.prod.api.autoscaling.enabled = false;
    },
    "environments.prod.api.replicas",
    /prod runs at least 2 replicas/,
  ],
  [
    "a memory limit below the request",
    (s) => (s.environments.dev.api.resources.limits.memory = "64Mi"),
    "environments.dev.api.resources.limits.memory",
    /at least the request \(128Mi\)/,
  ],
  [
    "a CPU limit below the request",
    (s) => (s.environments.prod.api.resources.limits.cpu = "200m"),
    "environments.prod.api.resources.limits.cpu",
    /at least the request \(250m\)/,
  ],
  [
    "a CPU quantity that does not parse",
    (s) => (s.environments.dev.api.resources.requests.cpu = "lots"),
    "environments.dev.api.resources.requests.cpu",
    /CPU quantity/,
  ],
  [
    "autoscaling min above max",
    (s) => (s.environments.dev.api.autoscaling.minReplicas = 5),
    "environments.dev.api.autoscaling.minReplicas",
    /must not exceed autoscaling.maxReplicas \(4\)/,
  ],
  [
    "a bad image tag",
    (s) => (s.environments.dev.api.imageTag = "release 0.1.0"),
    "environments.dev.api.imageTag",
    /OCI tag/,
  ],
  [
    "a committed latest tag",
    (s) => (s.environments.prod.api.imageTag = "latest"),
    "environments.prod.api.imageTag",
    /mutable tag/,
  ],
  [
    "a log retention CloudWatch does not offer",
    (s) => (s.shared.logRetentionDays = 100),
    "shared.logRetentionDays",
    /one of 1, 3, 5/,
  ],
  ["an upper-case project", (s) => (s.shared.project = "API"), "shared.project", /lower-case/],
  ["a bad region", (s) => (s.shared.region = "europe"), "shared.region", /eu-west-1/],
  ["a short account id", (s) => (s.shared.accountId = "1234"), "shared.accountId", /12-digit/],
  [
    "a state bucket name S3 refuses",
    (s) => (s.shared.stateBucket = "Upper_Case"),
    "shared.stateBucket",
    /S3 bucket name/,
  ],
  [
    "an admin ARN that is not a role",
    (s) => (s.shared.clusterAdminRoleArns = ["arn:aws:iam::111122223333:user/alice"]),
    "shared.clusterAdminRoleArns[0]",
    /IAM role ARN/,
  ],
  [
    "a NodePort service",
    (s) => ((s.environments.dev.api.service as { type: string }).type = "NodePort"),
    "environments.dev.api.service.type",
    /ClusterIP/,
  ],
  [
    "a bootstrap state switch that is not a boolean",
    (s) => ((s.shared as { bootstrapStateInBucket?: unknown }).bootstrapStateInBucket = "yes"),
    "shared.bootstrapStateInBucket",
    /true or false/,
  ],
  [
    "a Helm timeout below a minute",
    (s) => (s.environments.prod.api.helmTimeoutSeconds = 29),
    "environments.prod.api.helmTimeoutSeconds",
    /30-3600/,
  ],
  [
    "an account id written as a number",
    (s) => ((s.shared as { accountId?: unknown }).accountId = 111122223333),
    "shared.accountId",
    /12-digit/,
  ],
  [
    "admin roles that are not a list",
    (s) => ((s.shared as { clusterAdminRoleArns: unknown }).clusterAdminRoleArns = "arn:aws:iam"),
    "shared.clusterAdminRoleArns",
    /a list of IAM role ARNs/,
  ],
  [
    "an endpoint CIDR overlapping an earlier one, after an invalid one",
    (s) => (s.shared.publicEndpointCidrs = ["10.0.0.1/8", "10.0.0.0/8", "10.1.0.0/16"]),
    "shared.publicEndpointCidrs[2]",
    /overlap publicEndpointCidrs\[1\]/,
  ],
  [
    "a disabled autoscaler with bounds the chart refuses",
    (s) =>
      (s.environments.dev.api.autoscaling = {
        ...s.environments.dev.api.autoscaling,
        enabled: false,
        maxReplicas: 0,
      }),
    "environments.dev.api.autoscaling.maxReplicas",
    /1-100/,
  ],
  [
    "an idle colour with fewer than 2 pods",
    (s) => (s.environments.prod.api.blueGreen!.idleReplicas = 1),
    "environments.prod.api.blueGreen.idleReplicas",
    /2 to the active colour's floor \(3\)/,
  ],
  [
    "a misspelt environment name",
    (s) => ((s.environments.dev as { name: string }).name = "dve"),
    "environments.dev.name",
    /must be "dev"/,
  ],
];

// [case, environment, the variable the message must name, a fragment of the allowed form]
const badEnvironment: Array<[string, Record<string, string>, string, RegExp]> = [
  ["IMAGE_TAG_PROD=latest", { IMAGE_TAG_PROD: "latest" }, "IMAGE_TAG_PROD", /mutable tag/],
  ["IMAGE_TAG_DEV with a space", { IMAGE_TAG_DEV: "sha 123" }, "IMAGE_TAG_DEV", /OCI tag/],
  ["IMAGE_TAG_DEV empty", { IMAGE_TAG_DEV: "" }, "IMAGE_TAG_DEV", /OCI tag/],
  [
    "an unknown environment's tag",
    { IMAGE_TAG_STAGING: `sha-${SHA}` },
    "IMAGE_TAG_STAGING",
    /IMAGE_TAG_DEV, IMAGE_TAG_PROD/,
  ],
  ["GIT_SHA that is not hex", { GIT_SHA: "main" }, "GIT_SHA", /7 to 40 lower-case hex/],
  ["an unknown DEPLOY_TARGET", { DEPLOY_TARGET: "gcp" }, "DEPLOY_TARGET", /"aws" \(default\)/],
  [
    "the emulator without an endpoint",
    { DEPLOY_TARGET: "emulator" },
    "EMULATOR_ENDPOINT_URL",
    /loopback URL/,
  ],
  [
    "the emulator on a remote host",
    { DEPLOY_TARGET: "emulator", EMULATOR_ENDPOINT_URL: "http://203.0.113.7:5000" },
    "EMULATOR_ENDPOINT_URL",
    /loopback URL/,
  ],
  ["an unknown CLUSTER_TARGET", { CLUSTER_TARGET: "gke" }, "CLUSTER_TARGET", /"eks" \(default\)/],
  [
    "a local cluster with real AWS state",
    { CLUSTER_TARGET: "local", LOCAL_KUBECONFIG: "/tmp/kubeconfig" },
    "CLUSTER_TARGET",
    /only with DEPLOY_TARGET=emulator/,
  ],
  [
    "a local cluster without a kubeconfig",
    {
      DEPLOY_TARGET: "emulator",
      EMULATOR_ENDPOINT_URL: "http://127.0.0.1:5000",
      CLUSTER_TARGET: "local",
    },
    "LOCAL_KUBECONFIG",
    /an absolute path/,
  ],
  [
    "a local cluster with a relative kubeconfig path",
    {
      DEPLOY_TARGET: "emulator",
      EMULATOR_ENDPOINT_URL: "http://127.0.0.1:5000",
      CLUSTER_TARGET: "local",
      LOCAL_KUBECONFIG: "kubeconfig",
    },
    "LOCAL_KUBECONFIG",
    /an absolute path/,
  ],
];

describe("bad settings are rejected with the field named", () => {
  it("covers at least 15 cases", () => {
    expect(badSettings.length + badEnvironment.length).toBeGreaterThanOrEqual(15);
  });

  it.each(badSettings)("%s", (_, mutate, field, allowed) => {
    const error = rejection(mutate);
    const issue = error.issues.find((i) => i.field === field);
    expect(issue, `no issue for ${field} in:\n${error.message}`).toBeDefined();
    expect(issue!.allowed).toMatch(allowed);
    // The message quotes the field, the bad value and the allowed form on one line.
    const line = error.message.split("\n").find((l) => l.includes(`- ${field}: got `));
    expect(line).toContain(JSON.stringify(issue!.value));
    expect(line).toMatch(allowed);
  });
});

describe("bad environment variables are rejected with the variable named", () => {
  it.each(badEnvironment)("%s", (_, env, variable, allowed) => {
    const error = rejection(() => undefined, env);
    expect(error.issues.map((i) => i.field)).toContain(variable);
    expect(error.issues.find((i) => i.field === variable)!.allowed).toMatch(allowed);
    expect(error.message).toContain(`- ${variable}: got `);
  });

  it("accepts the emulator on a loopback address", () => {
    const config = loadConfig(
      { DEPLOY_TARGET: "emulator", EMULATOR_ENDPOINT_URL: "http://127.0.0.1:5000" },
      committed,
    );
    expect(config.target).toMatchObject({ kind: "endpoint", endpointUrl: "http://127.0.0.1:5000" });
    expect(config.cluster).toEqual({ kind: "eks" });
  });

  it("accepts a local cluster beside the emulator", () => {
    const config = loadConfig(
      {
        DEPLOY_TARGET: "emulator",
        EMULATOR_ENDPOINT_URL: "http://127.0.0.1:5000",
        CLUSTER_TARGET: "local",
        LOCAL_KUBECONFIG: "/tmp/rehearse/kubeconfig",
      },
      committed,
    );
    expect(config.cluster).toEqual({ kind: "local", kubeconfigPath: "/tmp/rehearse/kubeconfig" });
  });
});

describe("unknown keys are errors, naming the key and listing the allowed ones", () => {
  /** The one issue a change must be refused with. */
  const only = (mutate: (s: Settings) => void) => {
    const { issues, message } = rejection(mutate);
    expect(issues, message).toHaveLength(1);
    return { ...issues[0], message };
  };
  const SHARED_KEYS =
    "project, region, accountId, githubRepository, stateBucket, vpcCidr, azCount, " +
    "availabilityZones, natMode, kubernetesVersion, publicEndpointCidrs, clusterAdminRoleArns, " +
    "systemNodeGroup, logRetentionDays, keepShaImages, mutableTags, bootstrapStateInBucket, " +
    "stateVersionRetentionDays, monitoringNamespace";

  it("a misspelt shared key (kubernetesVerison), which synth used to ignore", () => {
    const issue = only((s) => Object.assign(s.shared, { kubernetesVerison: "1.34" }));
    expect(issue.field).toBe("shared.kubernetesVerison");
    expect(issue.value).toBe("1.34");
    expect(issue.allowed).toBe(
      `unknown field: allowed are ${SHARED_KEYS} (did you mean kubernetesVersion?)`,
    );
    expect(issue.message).toContain(
      `  - shared.kubernetesVerison: got "1.34"; unknown field: allowed are ${SHARED_KEYS}`,
    );
  });

  it("a misspelt shared key in place of the right one (regoin)", () => {
    const error = rejection((s) => {
      const { region, ...rest } = s.shared;
      (s as { shared: unknown }).shared = { ...rest, regoin: region };
    });
    expect(error.issues.map((i) => `${i.field}: ${i.allowed}`)).toEqual([
      "shared.region: allowed: an AWS region code such as eu-west-1",
      `shared.regoin: unknown field: allowed are ${SHARED_KEYS} (did you mean region?)`,
    ]);
    expect(error.message).toContain('  - shared.regoin: got "eu-west-1"; unknown field');
  });

  it("a misspelt key of a node group", () => {
    const issue = only((s) => Object.assign(s.environments.prod.nodeGroup, { maxSzie: 8 }));
    expect(issue.field).toBe("environments.prod.nodeGroup.maxSzie");
    expect(issue.value).toBe(8);
    expect(issue.allowed).toBe(
      "unknown field: allowed are instanceTypes, capacityType, minSize, maxSize, desiredSize, " +
        "diskSizeGiB (did you mean maxSize?)",
    );
  });

  it("a misspelt key in a customer's environment block", () => {
    const issue = only(
      (s) =>
        (s.customers = [
          {
            id: "acme",
            displayName: "Acme Corp",
            environments: { prod: { enabled: true, replcias: 3 } as never },
          },
        ]),
    );
    expect(issue.field).toBe("customers[acme].environments.prod.replcias");
    expect(issue.value).toBe(3);
    expect(issue.allowed).toBe(
      "unknown field: allowed are enabled, replicas, autoscaling, resources, message, hostname " +
        "(did you mean replicas?)",
    );
  });

  it("every object of the settings refuses a key it does not know", () => {
    // The committed settings with every optional block filled in, so that each object is visited.
    const full = (): Settings => {
      const s = settingsCopy() as Settings;
      s.shared.availabilityZones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
      s.customers = [
        {
          id: "acme",
          displayName: "Acme Corp",
          environments: {
            dev: {
              enabled: true,
              autoscaling: { maxReplicas: 4 },
              resources: { requests: { cpu: "100m" }, limits: { memory: "256Mi" } },
            },
          },
        },
      ];
      return s;
    };
    expect(() => loadConfig({}, full())).not.toThrow();
    const objects: string[][] = [];
    const walk = (value: unknown, path: string[]): void => {
      if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, String(i)]));
      else if (typeof value === "object" && value !== null) {
        objects.push(path);
        for (const [key, v] of Object.entries(value)) walk(v, [...path, key]);
      }
    };
    walk(full(), []);
    expect(objects.length).toBeGreaterThanOrEqual(25);
    for (const path of objects) {
      const s = full();
      const target = path.reduce<Record<string, unknown>>(
        (o, key) => o[key] as Record<string, unknown>,
        s as unknown as Record<string, unknown>,
      );
      const known = Object.keys(target);
      target.unexpected = true;
      const field = [...path, "unexpected"]
        .join(".")
        .replace(/^customers\.0/, "customers[acme]")
        .replace(/\.(\d+)(?=\.|$)/g, "[$1]");
      let error: ConfigError | undefined;
      try {
        loadConfig({}, s);
      } catch (e) {
        error = e as ConfigError;
      }
      expect(error?.issues, field).toHaveLength(1);
      const [issue] = error!.issues;
      expect(issue.field).toBe(field);
      expect(issue.allowed).toMatch(/^unknown (field|colour): allowed are /);
      for (const key of known) expect(issue.allowed, field).toContain(key);
    }
  });
});

describe("every problem is reported at once", () => {
  it("lists each broken field and variable in one ConfigError", () => {
    const error = rejection(
      (s) => {
        s.shared.vpcCidr = "10.40.0.0/33";
        s.shared.azCount = 1;
        s.shared.githubRepository = "";
        s.environments.prod.nodeGroup.minSize = 1;
        s.environments.dev.offHours!.timeZone = "Nowhere/Else";
      },
      { IMAGE_TAG_PROD: "latest", IMAGE_TAG_STAGING: "sha-1", GIT_SHA: "xyz" },
    );
    const fields = error.issues.map((i) => i.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        "shared.vpcCidr",
        "shared.azCount",
        "shared.githubRepository",
        "environments.prod.nodeGroup.minSize",
        "environments.dev.offHours.timeZone",
        "IMAGE_TAG_PROD",
        "IMAGE_TAG_STAGING",
        "GIT_SHA",
      ]),
    );
    expect(error.message).toMatch(
      new RegExp(`^invalid configuration \\(${fields.length} problems\\)`),
    );
    expect(error.message.split("\n")).toHaveLength(fields.length + 1);
  });

  it("a value of the wrong type never hides a rule across fields elsewhere", () => {
    const error = rejection((s) => {
      (s.shared as { azCount: unknown }).azCount = "3";
      (s.shared.systemNodeGroup as { diskSizeGiB: unknown }).diskSizeGiB = 30.5;
      s.shared.systemNodeGroup.desiredSize = 4;
      s.environments.prod.api.imageTag = "latest";
      s.customers = [
        {
          id: "acme",
          displayName: "Acme Corp",
          environments: { prod: { enabled: true, replicas: 1 } },
        },
      ];
    });
    expect(error.issues.map((i) => i.field)).toEqual([
      "shared.azCount",
      "shared.systemNodeGroup.diskSizeGiB",
      "shared.systemNodeGroup.desiredSize",
      "environments.prod.api.imageTag",
      "customers[acme].environments.prod.replicas",
    ]);
  });

  it("validates the offered settings, not the committed ones", () => {
    // loadConfig must read the settings it is given: a mutation that the committed file does not
    // have must be what is reported.
    expect(rejection((s) => (s.shared.azCount = 7)).issues).toHaveLength(1);
  });
});

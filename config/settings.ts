import type { PlatformSettings } from "./types";

/**
 * The committed configuration. Change these values for your account; every field is documented in
 * `config/types.ts` and in the README's configuration reference. `IMAGE_TAG_DEV` and `IMAGE_TAG_PROD`
 * override the image tags at synth time, and for a blue/green environment `ACTIVE_COLOUR_<ENV>` and
 * `IMAGE_TAG_<ENV>_<COLOUR>` its colours (`CONFIG_ENV_VARS` in `config/load.ts` lists them all).
 */
export const settings: PlatformSettings = {
  shared: {
    project: "api-platform",
    region: "eu-west-1",
    githubRepository: "example-org/eks-api-platform",
    stateBucket: "example-org-api-platform-tfstate",
    vpcCidr: "10.40.0.0/16",
    azCount: 3,
    natMode: "single",
    kubernetesVersion: "1.36",
    publicEndpointCidrs: ["203.0.113.0/24"],
    clusterAdminRoleArns: ["arn:aws:iam::111122223333:role/platform-admin"],
    systemNodeGroup: {
      instanceTypes: ["t3.large"],
      capacityType: "ON_DEMAND",
      minSize: 2,
      maxSize: 3,
      desiredSize: 2,
      diskSizeGiB: 30,
    },
    logRetentionDays: 365,
    keepShaImages: 50,
    mutableTags: ["latest", "stable", "main"],
    stateVersionRetentionDays: 90,
  },
  environments: {
    dev: {
      name: "dev",
      nodeGroup: {
        instanceTypes: ["t3.large", "t3a.large", "m6i.large"],
        capacityType: "SPOT",
        minSize: 1,
        maxSize: 3,
        desiredSize: 2,
        diskSizeGiB: 30,
      },
      offHours: {
        enabled: true,
        scaleDownCron: "0 20 * * 1-5",
        scaleUpCron: "0 7 * * 1-5",
        timeZone: "Europe/Dublin",
      },
      api: {
        replicas: 2,
        autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 4, targetCpuUtilization: 70 },
        resources: {
          requests: { cpu: "100m", memory: "128Mi" },
          limits: { cpu: "500m", memory: "256Mi" },
        },
        service: { type: "LoadBalancer", scheme: "internet-facing", sourceRanges: [] },
        logLevel: "debug",
        imageTag: "release-0.1.0",
        helmTimeoutSeconds: 300,
      },
    },
    prod: {
      name: "prod",
      nodeGroup: {
        instanceTypes: ["m6i.large"],
        capacityType: "ON_DEMAND",
        minSize: 3,
        maxSize: 6,
        desiredSize: 3,
        diskSizeGiB: 50,
      },
      api: {
        replicas: 3,
        autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 10, targetCpuUtilization: 60 },
        resources: {
          requests: { cpu: "250m", memory: "256Mi" },
          limits: { cpu: "1", memory: "512Mi" },
        },
        service: { type: "LoadBalancer", scheme: "internet-facing", sourceRanges: [] },
        logLevel: "info",
        imageTag: "release-0.1.0",
        helmTimeoutSeconds: 600,
        // docs/blue-green.md: a new tag goes into the idle colour, is tested, then takes traffic.
        strategy: "blue-green",
        blueGreen: {
          activeColour: "blue",
          tags: { blue: "release-0.1.0", green: "release-0.1.0" },
          idleReplicas: 2,
        },
      },
    },
  },
  // Customer workspaces (docs/customers.md has examples): each entry adds a namespace and a release
  // per enabled environment, so none are committed here.
  customers: [],
};

/**
 * Blue/green (docs/blue-green.md): the synthesized colour releases and stable Service, their
 * rendered manifests checked like the rest of the chart, the inputs' errors, and the delivery
 * steps that turn the stack's outputs into the next apply's inputs.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../config";
import type { ApiSettings, BlueGreenSettings, PlatformSettings } from "../../config/types";
import { namespaceQuota } from "../../constructs/api-release";
import { colourState, colourStep, committedColours } from "../../scripts/delivery/blue-green";
import { helmReleases } from "../chart/environments";
import { INVARIANT_CHECKS, pods, selects } from "../chart/invariants";
import { apiChartDir, helmTemplate, type Manifest } from "../helpers/helm";
import { validateManifests } from "../helpers/k8s-validate";
import {
  configFrom,
  only,
  resources,
  settingsCopy,
  type Block,
  type StackJson,
  synthStacks,
} from "../helpers/synth";
import { colourRelease } from "../../config/names";

const OLD = "release-0.1.0";
const NEW = "release-0.2.0";

/** The committed settings with prod on blue/green, blue serving `OLD`. */
function blueGreenSettings(bg: Partial<BlueGreenSettings> = {}): PlatformSettings {
  const s = settingsCopy();
  const api = s.environments.prod.api as { -readonly [K in keyof ApiSettings]: ApiSettings[K] };
  api.strategy = "blue-green";
  api.blueGreen = {
    activeColour: "blue",
    tags: { blue: OLD, green: OLD },
    idleReplicas: 2,
    ...bg,
  };
  return s;
}

interface Synth {
  readonly prod: StackJson;
  readonly shared: StackJson;
}

function synth(env: Record<string, string>, s = blueGreenSettings()): Synth {
  const stacks = synthStacks(configFrom(s, env));
  return { prod: stacks.prod, shared: stacks.shared };
}

const releaseNamed = (json: StackJson, name: string): Block =>
  only(json, "helm_release", (r) => r.name === name);
/* eslint-disable-next-line @typescript-eslint/no-explicit-any -- chart values, read as JSON */
type Values = Record<string, any>;
const valuesOf = (release: Block): Values => JSON.parse((release.values as string[])[0]) as Values;
const address = (block: Block): string => block.address;

/** The stable Service as the Kubernetes API receives it from the kubernetes provider. */
function serviceManifest(block: Block): Manifest {
  const metadata = block.metadata as {
    name: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  const spec = block.spec as {
    type: string;
    selector: Record<string, string>;
    load_balancer_source_ranges?: string[];
    port: { name: string; port: number; target_port: string; protocol: string }[];
  };
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { ...metadata, namespace: "api-prod" },
    spec: {
      type: spec.type,
      selector: spec.selector,
      ...(spec.load_balancer_source_ranges && {
        loadBalancerSourceRanges: spec.load_balancer_source_ranges,
      }),
      ports: spec.port.map((p) => ({
        name: p.name,
        port: p.port,
        targetPort: p.target_port,
        protocol: p.protocol,
      })),
    },
  };
}

describe("blue/green in the synthesized prod stack", () => {
  let deploy: Synth; // IMAGE_TAG_PROD: the new tag into the idle colour (green)
  let flip: Synth; // ACTIVE_COLOUR_PROD=green: the switch after green passed its test

  beforeAll(() => {
    deploy = synth({ IMAGE_TAG_PROD: NEW });
    flip = synth({ ACTIVE_COLOUR_PROD: "green", IMAGE_TAG_PROD_GREEN: NEW });
  });

  it("a deploy puts the new tag into the idle colour only", () => {
    expect(valuesOf(releaseNamed(deploy.prod, "api-green")).image.tag).toBe(NEW);
    expect(valuesOf(releaseNamed(deploy.prod, "api-blue")).image.tag).toBe(OLD);
    expect(deploy.prod.output?.active_colour?.value).toBe("blue");
    expect(deploy.prod.output?.colour_image_tags?.value).toEqual({ blue: OLD, green: NEW });
    expect(deploy.prod.output?.image_tag?.value).toBe(OLD);
  });

  it("deploying into the idle colour leaves the serving colour's values as they were", () => {
    const before = synth({});
    expect(releaseNamed(deploy.prod, "api-blue").values).toEqual(
      releaseNamed(before.prod, "api-blue").values,
    );
    expect(resources(deploy.prod, "kubernetes_service_v1")).toEqual(
      resources(before.prod, "kubernetes_service_v1"),
    );
  });

  it("the stable Service selects the active colour and waits for its release", () => {
    for (const [run, active, idle] of [
      [deploy, "blue", "green"],
      [flip, "green", "blue"],
    ] as const) {
      const service = only(run.prod, "kubernetes_service_v1");
      expect((service.spec as { selector: Record<string, string> }).selector).toEqual({
        "app.kubernetes.io/name": "api",
        "app.kubernetes.io/component": "api",
        colour: active,
      });
      // A failed install or test of the active colour (atomic, wait) never reaches the Service.
      expect(service.depends_on).toEqual([address(releaseNamed(run.prod, colourRelease(active)))]);
      // The old colour shrinks only after traffic has left it.
      expect(releaseNamed(run.prod, colourRelease(idle)).depends_on).toEqual([address(service)]);
      expect(releaseNamed(run.prod, colourRelease(active))).not.toHaveProperty("depends_on");
    }
  });

  it("the stable Service is the public one, with the environment's service settings", () => {
    const service = only(deploy.prod, "kubernetes_service_v1");
    expect(service).toMatchObject({
      metadata: {
        name: "api-live",
        annotations: {
          "service.beta.kubernetes.io/aws-load-balancer-type": "external",
          "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
          "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        },
      },
      spec: { type: "LoadBalancer" },
      wait_for_load_balancer: true,
    });
    expect(String(deploy.prod.output?.service_url?.value)).toBe(
      `http://\${${address(service)}.status[0].load_balancer[0].ingress[0].hostname}`,
    );
    for (const colour of ["blue", "green"] as const) {
      expect(valuesOf(releaseNamed(deploy.prod, colourRelease(colour))).service).toEqual({
        type: "ClusterIP",
      });
    }
  });

  it("colour releases keep invariant 29: atomic, wait, cleanup, timeout, bounded history", () => {
    for (const release of resources(flip.prod, "helm_release")) {
      expect(release).toMatchObject({
        atomic: true,
        wait: true,
        cleanup_on_fail: true,
        timeout: 600,
        max_history: 10,
      });
      expect(release).not.toHaveProperty("force_update");
    }
  });

  it("the idle colour runs idleReplicas, the active one full size; both fit the quota", () => {
    const api = configFrom(blueGreenSettings()).environments.prod.api;
    const green = valuesOf(releaseNamed(flip.prod, "api-green"));
    const blue = valuesOf(releaseNamed(flip.prod, "api-blue"));
    expect(green.autoscaling).toMatchObject({
      minReplicas: api.autoscaling.minReplicas,
      maxReplicas: api.autoscaling.maxReplicas,
    });
    expect(blue.replicaCount).toBe(2);
    expect(blue.autoscaling).toMatchObject({ minReplicas: 2, maxReplicas: 2 });
    const quota = only(flip.prod, "kubernetes_resource_quota_v1") as {
      spec?: { hard?: Record<string, string> };
    };
    expect(quota.spec?.hard).toEqual(namespaceQuota(api));
    // Both colours at their ceilings, a surge pod and the test pod.
    const pods = green.autoscaling.maxReplicas + blue.autoscaling.maxReplicas + 2;
    expect(pods).toBeLessThanOrEqual(Number(quota.spec?.hard?.pods));
  });

  it("the rolling strategy keeps one release serving through its own Service", () => {
    const rolling = settingsCopy();
    const api = rolling.environments.prod.api as { strategy?: string; blueGreen?: unknown };
    api.strategy = "rolling";
    delete api.blueGreen;
    const stacks = synthStacks(configFrom(rolling));
    expect(resources(stacks.prod, "helm_release").map((r) => r.name)).toEqual(["api"]);
    expect(resources(stacks.prod, "kubernetes_service_v1")).toEqual([]);
    expect(stacks.prod.output).not.toHaveProperty("active_colour");
  });

  it("customer releases keep the rolling strategy and follow the active colour's tag", () => {
    const s = blueGreenSettings();
    (s as { customers: unknown }).customers = [
      { id: "acme", displayName: "Acme", environments: { prod: { enabled: true } } },
    ];
    const { prod } = synth({ ACTIVE_COLOUR_PROD: "green", IMAGE_TAG_PROD_GREEN: NEW }, s);
    const customer = only(
      prod,
      "helm_release",
      (r) => !String(r.name).includes("-") && String(r.namespace).includes("Customer"),
    );
    expect(customer.name).toBe("api");
    expect(valuesOf(customer).image.tag).toBe(NEW);
    expect(valuesOf(customer)).not.toHaveProperty("colour");
  });

  describe("rendered", () => {
    const docs = new Map<string, Manifest[]>();
    let service: Manifest;

    beforeAll(async () => {
      const releases = helmReleases(flip.prod, flip.shared, "/");
      await Promise.all(
        releases.map(async (r) =>
          docs.set(r.options.releaseName, await helmTemplate(apiChartDir, r.values, r.options)),
        ),
      );
      service = serviceManifest(only(flip.prod, "kubernetes_service_v1"));
    }, 60_000);

    it("both colours and the stable Service pass kubernetes-validate --strict", async () => {
      const all = [...docs.get("api-blue")!, ...docs.get("api-green")!, service];
      const result = await validateManifests(all, "1.33.0");
      expect(result.errors).toEqual([]);
      expect(result.ok).toBe(true);
    }, 60_000);

    it.each(["api-blue", "api-green"])("%s keeps invariants 21-28, 37 and 38", (release) => {
      for (const [number, check] of Object.entries(INVARIANT_CHECKS)) {
        expect(check(docs.get(release)!, { minReplicas: 2 }), `invariant ${number}`).toEqual([]);
      }
    });

    it("the stable Service selects the active colour's API pods only", () => {
      const matchLabels = (service.spec as { selector: Record<string, string> }).selector;
      const selected = (release: string) =>
        pods(docs.get(release)!)
          .filter((pod) => selects({ matchLabels }, pod.labels))
          .map((pod) => pod.where);
      expect(selected("api-green")).toEqual(["Deployment/api-green"]);
      expect(selected("api-blue")).toEqual([]);
    });

    it("each colour's Service is ClusterIP and its helm test expects the colour's version", () => {
      for (const [release, version] of [
        ["api-green", "0.2.0"],
        ["api-blue", "0.1.0"],
      ]) {
        const own = docs.get(release)!.filter((d) => d.kind === "Service");
        expect(own.map((d) => (d.spec as { type: string }).type)).toEqual(["ClusterIP"]);
        const test = docs.get(release)!.find((d) => d.kind === "Pod")!;
        const container = (
          test.spec as { containers: { env: { name: string; value: string }[] }[] }
        ).containers[0];
        expect(container.env).toEqual([
          { name: "BASE_URL", value: `http://${release}.api-prod.svc:80` },
          { name: "EXPECTED_VERSION", value: version },
        ]);
      }
    });
  });
});

describe("blue/green inputs: each mistake is a clear error", () => {
  const problems = (env: Record<string, string>, s = blueGreenSettings()): string[] => {
    try {
      configFrom(s, env);
    } catch (error) {
      if (error instanceof ConfigError) return error.issues.map((i) => `${i.field}: ${i.allowed}`);
      throw error;
    }
    return [];
  };

  it.each([
    [
      "an unknown colour",
      { ACTIVE_COLOUR_PROD: "red" },
      /^ACTIVE_COLOUR_PROD: allowed: "blue" or "green"$/,
    ],
    [
      "an undeployable tag",
      { IMAGE_TAG_PROD_GREEN: "latest" },
      /^IMAGE_TAG_PROD_GREEN: a mutable tag/,
    ],
    [
      "a malformed tag",
      { IMAGE_TAG_PROD_BLUE: "v/1" },
      /^IMAGE_TAG_PROD_BLUE: allowed: an OCI tag/,
    ],
    [
      "an unknown colour's tag",
      { IMAGE_TAG_PROD_RED: NEW },
      /^IMAGE_TAG_PROD_RED: unknown environment or colour/,
    ],
    [
      "two tags for the idle colour",
      { IMAGE_TAG_PROD: NEW, IMAGE_TAG_PROD_GREEN: "release-0.3.0" },
      /^IMAGE_TAG_PROD: sets the idle colour \(green\), which IMAGE_TAG_PROD_GREEN=release-0.3.0 also sets/,
    ],
    [
      "a colour variable for a rolling environment",
      { ACTIVE_COLOUR_DEV: "green" },
      /^ACTIVE_COLOUR_DEV: environments.dev.api.strategy is "rolling"/,
    ],
  ])("%s", (_name, env, message) => {
    expect(problems(env)).toEqual([expect.stringMatching(message)]);
  });

  it("a switch to a colour with no release", () => {
    const s = blueGreenSettings({ tags: { blue: OLD } });
    expect(problems({}, s)).toEqual([]);
    expect(problems({ ACTIVE_COLOUR_PROD: "green" }, s)).toEqual([
      expect.stringMatching(/^ACTIVE_COLOUR_PROD: green has no release to switch to/),
    ]);
    // Without a tag the idle colour has no release at all.
    const { prod } = synth({}, s);
    expect(resources(prod, "helm_release").map((r) => r.name)).toEqual(["api-blue"]);
  });

  it.each([
    [
      "same colour",
      { activeColour: "purple" },
      /blueGreen.activeColour: allowed: "blue" or "green"/,
    ],
    ["unknown tag key", { tags: { blue: OLD, red: OLD } }, /blueGreen.tags.red: unknown colour/],
    ["mutable tag", { tags: { blue: "latest" } }, /blueGreen.tags.blue: a mutable tag/],
    [
      "idle too small",
      { idleReplicas: 1 },
      /blueGreen.idleReplicas: allowed: 2 to the active colour's floor \(3\)/,
    ],
    ["idle too large", { idleReplicas: 4 }, /blueGreen.idleReplicas: allowed: 2 to/],
  ])("committed blueGreen with %s", (_name, bg, message) => {
    const s = blueGreenSettings(bg as Partial<BlueGreenSettings>);
    expect(problems({}, s)).toContainEqual(expect.stringMatching(message));
  });

  it("blueGreen without the strategy, and the strategy without blueGreen", () => {
    const rolling = blueGreenSettings();
    (rolling.environments.prod.api as { strategy?: string }).strategy = "rolling";
    expect(problems({}, rolling)).toEqual([
      expect.stringMatching(/^environments.prod.api.blueGreen: only with strategy "blue-green"/),
    ]);
    const bare = blueGreenSettings();
    delete (bare.environments.prod.api as { blueGreen?: unknown }).blueGreen;
    expect(problems({}, bare)).toEqual([
      expect.stringMatching(/^environments.prod.api.blueGreen: required with strategy blue-green/),
    ]);
    const typo = blueGreenSettings();
    (typo.environments.prod.api as { strategy?: string }).strategy = "canary";
    expect(problems({}, typo)).toEqual([
      expect.stringMatching(/^environments.prod.api.strategy: allowed: "rolling" or "blue-green"/),
    ]);
  });
});

describe("delivery steps from the stack's outputs", () => {
  const outputs = { prod: { active_colour: "blue", colour_image_tags: { blue: OLD, green: OLD } } };
  const state = colourState(outputs, "prod");

  it("deploy: the new tag into the idle colour; switch and rollback flip the colour only", () => {
    expect(colourStep("prod", state, { action: "deploy", tag: NEW })).toEqual([
      ["ACTIVE_COLOUR_PROD", "blue"],
      ["IMAGE_TAG_PROD_BLUE", OLD],
      ["IMAGE_TAG_PROD_GREEN", NEW],
    ]);
    const deployed = { active: "blue" as const, tags: { blue: OLD, green: NEW } };
    expect(colourStep("prod", deployed, { action: "switch" })).toEqual([
      ["ACTIVE_COLOUR_PROD", "green"],
      ["IMAGE_TAG_PROD_BLUE", OLD],
      ["IMAGE_TAG_PROD_GREEN", NEW],
    ]);
    const switched = { active: "green" as const, tags: { blue: OLD, green: NEW } };
    expect(colourStep("prod", switched, { action: "rollback" })).toEqual([
      ["ACTIVE_COLOUR_PROD", "blue"],
      ["IMAGE_TAG_PROD_BLUE", OLD],
      ["IMAGE_TAG_PROD_GREEN", NEW],
    ]);
  });

  it("current: what runs now, so a plan compares the state with itself", () => {
    const switched = { active: "green" as const, tags: { blue: OLD, green: NEW } };
    expect(colourStep("prod", switched, { action: "current" })).toEqual([
      ["ACTIVE_COLOUR_PROD", "green"],
      ["IMAGE_TAG_PROD_BLUE", OLD],
      ["IMAGE_TAG_PROD_GREEN", NEW],
    ]);
  });

  it("the steps' variables synthesize what they say", () => {
    const env = Object.fromEntries(colourStep("prod", state, { action: "deploy", tag: NEW }));
    const { prod } = synth(env);
    expect(prod.output?.colour_image_tags?.value).toEqual({ blue: OLD, green: NEW });
    expect(prod.output?.active_colour?.value).toBe("blue");
  });

  it("refuses a rollback to the colour that serves, or to a colour with no release", () => {
    expect(() => colourStep("prod", state, { action: "rollback", to: "blue" })).toThrow(
      /blue already serves/,
    );
    const single = { active: "blue" as const, tags: { blue: OLD } };
    expect(() => colourStep("prod", single, { action: "rollback" })).toThrow(
      /green has no release to rollback to/,
    );
  });

  it("the first deploy starts from the committed colours, later ones from the state", () => {
    const committed = committedColours(configFrom(blueGreenSettings()), "prod");
    expect(committed).toEqual({ active: "blue", tags: { blue: OLD, green: OLD } });
    expect(committedColours(configFrom(settingsCopy()), "dev")).toBeUndefined();
    expect(colourState({ prod: { service_url: "http://x" } }, "prod", committed)).toBe(committed);
    const live = { prod: { active_colour: "green", colour_image_tags: { blue: OLD, green: NEW } } };
    expect(colourState(live, "prod", committed)).toEqual({
      active: "green",
      tags: { blue: OLD, green: NEW },
    });
  });

  it("refuses outputs of a stack that is not blue/green", () => {
    expect(() => colourState({ prod: { service_url: "http://x" } }, "prod")).toThrow(
      /no active_colour output .*strategy "blue-green"/,
    );
    expect(() =>
      colourState({ prod: { active_colour: "green", colour_image_tags: { blue: 3 } } }, "prod"),
    ).toThrow(/colour_image_tags.blue is 3/);
  });
});

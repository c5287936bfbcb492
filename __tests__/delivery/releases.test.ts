import { describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import {
  autoscaledTargets,
  compareValues,
  kubectlGetArgs,
  MISSING_OBJECT_PATH,
  parseManifest,
  readStackReleases,
  recoverReleases,
  recoveryAction,
  releaseDrift,
  stackReleases,
  type ClusterTools,
  type CommandResult,
  type HelmRevision,
  type StackRelease,
} from "../../scripts/delivery/releases";
import { apiChartDir, helmTemplate, type Manifest } from "../helpers/helm";

const ok = (stdout = ""): CommandResult => ({ code: 0, stdout, stderr: "" });
const fail = (stderr: string): CommandResult => ({ code: 1, stdout: "", stderr });
const NOT_INSTALLED = fail("Error: release: not found\n");

/** helm and kubectl answered from tables; every call is recorded. */
class FakeTools implements ClusterTools {
  readonly calls: string[] = [];
  constructor(
    private readonly answer: {
      helm?: (args: readonly string[]) => CommandResult;
      kubectl?: (args: readonly string[]) => CommandResult;
    },
  ) {}
  async helm(args: readonly string[]): Promise<CommandResult> {
    this.calls.push(`helm ${args.join(" ")}`);
    return (this.answer.helm ?? (() => fail("unexpected helm call")))(args);
  }
  async kubectl(args: readonly string[]): Promise<CommandResult> {
    this.calls.push(`kubectl ${args.join(" ")}`);
    return (this.answer.kubectl ?? (() => fail("unexpected kubectl call")))(args);
  }
}

const release = (name = "api", namespace = "api-dev", timeoutSeconds = 300): StackRelease => ({
  stack: "dev",
  address: `helm_release.Api_${name}`,
  name,
  namespace,
  timeoutSeconds,
});
const history = (...revisions: Array<[number, string]>) =>
  ok(
    JSON.stringify(
      revisions.map(([revision, status]) => ({ revision, status, chart: "api-0.1.0" })),
    ),
  );
/** helm answering `history` per release name, and everything else with `other`. */
const helmWith =
  (
    histories: Record<string, CommandResult>,
    other: (args: readonly string[]) => CommandResult = () => ok(),
  ) =>
  (args: readonly string[]) =>
    args[0] === "history" ? (histories[args[1]!] ?? NOT_INSTALLED) : other(args);

describe("stack releases", () => {
  const stack = (namespace: unknown, extra: Record<string, unknown> = {}) => ({
    resource: {
      helm_release: { Api_Release_1: { name: "api", namespace, timeout: 600 } },
      kubernetes_namespace_v1: { Api_Namespace_2: { metadata: { name: "api-dev" } } },
      ...extra,
    },
  });
  it("resolves a kubernetes_namespace_v1 reference of the same stack to its metadata.name", () => {
    expect(
      stackReleases("dev", stack("${kubernetes_namespace_v1.Api_Namespace_2.metadata[0].name}")),
    ).toEqual([
      {
        stack: "dev",
        address: "helm_release.Api_Release_1",
        name: "api",
        namespace: "api-dev",
        timeoutSeconds: 600,
      },
    ]);
  });
  it("takes a literal namespace as it is", () => {
    expect(stackReleases("dev", stack("team-a"))[0]!.namespace).toBe("team-a");
  });
  it("refuses any other namespace, naming the release", () => {
    expect(() => stackReleases("dev", stack("${var.namespace}"))).toThrow(
      /helm_release\.Api_Release_1 has namespace "\$\{var\.namespace\}": expected a literal name/,
    );
    expect(() =>
      stackReleases("dev", stack("${kubernetes_namespace_v1.Other_3.metadata[0].name}")),
    ).toThrow(/helm_release\.Api_Release_1 .*the stack has no kubernetes_namespace_v1\.Other_3/);
    const computed = stack("${kubernetes_namespace_v1.Api_Namespace_2.metadata[0].name}");
    computed.resource.kubernetes_namespace_v1.Api_Namespace_2.metadata.name = "${var.ns}";
    expect(() => stackReleases("dev", computed)).toThrow(/not a literal name/);
  });
  it("reads the synthesized dev and prod stacks", () => {
    const dir = inject("synthDir");
    expect(readStackReleases(dir, "dev").map((r) => [r.name, r.namespace])).toEqual([
      ["api", "api-dev"],
    ]);
    expect(
      readStackReleases(dir, "prod")
        .map((r) => [r.name, r.namespace])
        .sort(),
    ).toEqual([
      ["api-blue", "api-prod"],
      ["api-green", "api-prod"],
    ]);
    expect(() => readStackReleases(dir, "nope")).toThrow(/run npm run synth first/);
  });
});

describe("recover-releases", () => {
  it.each<[string, HelmRevision[], ReturnType<typeof recoveryAction>["kind"], number?]>([
    ["deployed", [r(1, "superseded"), r(2, "deployed")], "leave"],
    ["failed", [r(1, "deployed"), r(2, "failed")], "leave"],
    [
      "pending-upgrade",
      [r(1, "superseded"), r(2, "deployed"), r(3, "pending-upgrade")],
      "rollback",
      2,
    ],
    // The newest good revision, not the failed one just before the pending one.
    [
      "after a failure",
      [r(1, "superseded"), r(2, "deployed"), r(3, "failed"), r(4, "pending-upgrade")],
      "rollback",
      2,
    ],
    [
      "pending-rollback",
      [r(1, "superseded"), r(2, "failed"), r(3, "pending-rollback")],
      "rollback",
      1,
    ],
    ["pending-install", [r(1, "pending-install")], "uninstall"],
    ["never deployed", [r(1, "failed"), r(2, "pending-upgrade")], "uninstall"],
  ])("decides for a latest revision %s", (_name, revisions, kind, to) => {
    const action = recoveryAction([...revisions].reverse());
    expect(action.kind).toBe(kind);
    if (action.kind === "rollback") expect(action.to.revision).toBe(to);
  });

  it("rolls back a pending release to the newest deployed or superseded revision", async () => {
    const tools = new FakeTools({
      helm: helmWith({
        api: history([1, "superseded"], [2, "deployed"], [3, "failed"], [4, "pending-upgrade"]),
      }),
    });
    const lines: string[] = [];
    const results = await recoverReleases([release("api", "api-dev", 600)], tools, (l) =>
      lines.push(l),
    );
    expect(tools.calls).toEqual([
      "helm history api --namespace api-dev --output json",
      "helm rollback api 2 --namespace api-dev --wait --timeout 600s",
    ]);
    expect(results.map((x) => x.recovered)).toEqual([true]);
    expect(lines.join("\n")).toMatch(/revision 4 is pending-upgrade .*rolling back to revision 2/);
  });

  it("uninstalls a pending first install", async () => {
    const tools = new FakeTools({ helm: helmWith({ api: history([1, "pending-install"]) }) });
    const results = await recoverReleases([release()], tools, () => {});
    expect(tools.calls).toEqual([
      "helm history api --namespace api-dev --output json",
      "helm uninstall api --namespace api-dev --wait --timeout 300s",
    ]);
    expect(results[0]!.recovered).toBe(true);
  });

  it("leaves releases that are not pending, and skips releases not installed yet", async () => {
    const tools = new FakeTools({
      helm: helmWith({ "api-blue": history([1, "superseded"], [2, "deployed"]) }),
    });
    const lines: string[] = [];
    const results = await recoverReleases(
      [release("api-blue", "api-prod"), release("api-green", "api-prod")],
      tools,
      (l) => lines.push(l),
    );
    expect(tools.calls).toEqual([
      "helm history api-blue --namespace api-prod --output json",
      "helm history api-green --namespace api-prod --output json",
    ]);
    expect(results.map((x) => [x.action.kind, x.recovered])).toEqual([
      ["leave", false],
      ["not-installed", false],
    ]);
    expect(lines).toEqual([
      expect.stringMatching(/api-blue .*revision 2 is deployed, left alone/),
      expect.stringMatching(/api-green .*not installed yet/),
    ]);
  });

  it("fails with helm's message after trying every release", async () => {
    const tools = new FakeTools({
      helm: helmWith(
        {
          "api-blue": history([1, "deployed"], [2, "pending-upgrade"]),
          "api-green": history([1, "pending-install"]),
        },
        (args) =>
          args[0] === "rollback" ? fail("Error: timed out waiting for the condition\n") : ok(),
      ),
    });
    await expect(
      recoverReleases(
        [release("api-blue", "api-prod"), release("api-green", "api-prod")],
        tools,
        () => {},
      ),
    ).rejects.toThrow(/api-blue \(namespace api-prod.*helm rollback failed: Error: timed out/);
    expect(tools.calls.at(-1)).toMatch(/^helm uninstall api-green/);
  });

  it("fails when helm cannot read the history", async () => {
    const tools = new FakeTools({
      helm: () => fail("Error: Kubernetes cluster unreachable: connection refused\n"),
    });
    await expect(recoverReleases([release()], tools, () => {})).rejects.toThrow(
      /api \(namespace api-dev, helm_release\.Api_api\): helm history failed: .*unreachable.*\nCheck that KUBECONFIG/s,
    );
  });
});

function r(revision: number, status: string): HelmRevision {
  return { revision, status };
}

// --- release-drift -------------------------------------------------------------------------------

const deployment = (spec: Record<string, unknown>) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "api", namespace: "api-dev", labels: { app: "api" } },
  spec,
});
const podSpec = (image: string, extra: Record<string, unknown> = {}) => ({
  selector: { matchLabels: { app: "api" } },
  template: {
    metadata: { labels: { app: "api" } },
    spec: {
      containers: [
        {
          name: "api",
          image,
          env: [
            { name: "PORT", value: "8080" },
            { name: "GIT_SHA", value: "" },
          ],
          resources: { limits: { cpu: "0.5", memory: "256Mi" } },
          volumeMounts: [{ name: "tmp", mountPath: "/tmp", readOnly: false }],
        },
      ],
    },
  },
  ...extra,
});
const hpa = {
  apiVersion: "autoscaling/v2",
  kind: "HorizontalPodAutoscaler",
  metadata: { name: "api", namespace: "api-dev" },
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "api" },
    minReplicas: 2,
    maxReplicas: 4,
  },
};
const service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "api", namespace: "api-dev" },
  spec: { type: "ClusterIP", ports: [{ name: "http", port: 80, targetPort: "http" }] },
};

/** What the API server returns for a rendered Deployment: defaults, status, reordered env. */
function served(
  object: ReturnType<typeof deployment>,
  changes: (o: Json) => void = () => {},
): Json {
  const live = structuredClone(object) as Json;
  const meta = live.metadata as Json;
  meta.uid = "0b6f";
  meta.resourceVersion = "812";
  (meta.labels as Json)["app.kubernetes.io/managed-by"] = "Helm";
  meta.annotations = { "meta.helm.sh/release-name": "api" };
  const spec = live.spec as Json;
  spec.replicas ??= 1;
  spec.revisionHistoryLimit = 10;
  const pod = (spec.template as Json).spec as Json;
  pod.restartPolicy = "Always";
  pod.dnsPolicy = "ClusterFirst";
  const container = (pod.containers as Json[])[0]!;
  container.terminationMessagePath = "/dev/termination-log";
  container.imagePullPolicy = "IfNotPresent";
  // Served in another order, the empty value omitted, the quantity canonical, false omitted.
  container.env = [{ name: "GIT_SHA" }, { name: "PORT", value: "8080" }];
  container.resources = { limits: { cpu: "500m", memory: "256Mi" } };
  container.volumeMounts = [{ name: "tmp", mountPath: "/tmp" }];
  live.status = { replicas: 2, readyReplicas: 2 };
  changes(live);
  return live;
}
type Json = Record<string, unknown>;

const manifestOf = (...objects: unknown[]) =>
  objects.map((o) => `---\n# Source: api/templates/x.yaml\n${stringify(o)}`).join("");

/** helm returns `manifest`; kubectl returns `live[kind/name]` or NotFound. */
function cluster(manifest: string, live: Record<string, unknown>): FakeTools {
  return new FakeTools({
    helm: (args) =>
      args[0] === "get" && args[1] === "manifest" && args[2] === "api"
        ? ok(manifest)
        : NOT_INSTALLED,
    kubectl: (args) => {
      const [resource, name] = args[1]!.split("/");
      const kind = resource!.split(".")[0]!;
      const object = live[`${kind}/${name}`];
      return object
        ? ok(JSON.stringify(object))
        : fail(`Error from server (NotFound): ${kind.toLowerCase()}s "${name}" not found\n`);
    },
  });
}

describe("release-drift", () => {
  const rendered = deployment(podSpec("r.example/api:sha-1", { replicas: 2 }));

  it("finds an image change and a replicas change", async () => {
    const live = served(rendered, (o) => {
      const spec = o.spec as Json;
      spec.replicas = 5;
      ((spec.template as Json).spec as { containers: Json[] }).containers[0]!.image =
        "r.example/api:hotfix";
    });
    const report = await releaseDrift(
      "dev",
      [release()],
      cluster(manifestOf(rendered, service), { "Deployment/api": live, "Service/api": service }),
    );
    expect(report.differences).toEqual([
      {
        stack: "dev",
        release: "api",
        namespace: "api-dev",
        kind: "Deployment",
        name: "api",
        path: "spec.template.spec.containers[name=api].image",
        rendered: "r.example/api:sha-1",
        live: "r.example/api:hotfix",
      },
      expect.objectContaining({ path: "spec.replicas", rendered: 2, live: 5 }),
    ]);
    expect(report.releases).toEqual([{ release: "api", namespace: "api-dev", objects: 2 }]);
  });

  it("ignores server defaults, status, omitted zero values, canonical quantities and list order by name", async () => {
    const tools = cluster(manifestOf(rendered, service), {
      "Deployment/api": served(rendered),
      "Service/api": {
        ...service,
        spec: { ...service.spec, clusterIP: "10.0.0.7", sessionAffinity: "None" },
      },
    });
    expect((await releaseDrift("dev", [release()], tools)).differences).toEqual([]);
    expect(tools.calls).toEqual([
      "helm get manifest api --namespace api-dev",
      "kubectl get Deployment.v1.apps/api --output json --namespace api-dev",
      "kubectl get Service/api --output json --namespace api-dev",
    ]);
  });

  it("ignores the Deployment's replicas when the release renders an HPA for it", async () => {
    const live = served(rendered, (o) => {
      const spec = o.spec as Json;
      spec.replicas = 4;
      spec.selector = { matchLabels: { app: "other" } };
    });
    const report = await releaseDrift(
      "dev",
      [release()],
      cluster(manifestOf(rendered, hpa), {
        "Deployment/api": live,
        "HorizontalPodAutoscaler/api": hpa,
      }),
    );
    expect(report.differences.map((d) => d.path)).toEqual(["spec.selector.matchLabels.app"]);
  });

  it("reports a missing object", async () => {
    const report = await releaseDrift(
      "dev",
      [release()],
      cluster(manifestOf(rendered, service), { "Deployment/api": served(rendered) }),
    );
    expect(report.differences).toEqual([
      {
        stack: "dev",
        release: "api",
        namespace: "api-dev",
        kind: "Service",
        name: "api",
        path: MISSING_OBJECT_PATH,
        rendered: "present",
        live: null,
      },
    ]);
  });

  it("skips a release that is not installed, and fails when kubectl cannot answer", async () => {
    const none = await releaseDrift("prod", [release("api-green", "api-prod")], cluster("", {}));
    expect(none).toEqual({
      stack: "prod",
      releases: [{ release: "api-green", namespace: "api-prod", objects: null }],
      differences: [],
    });
    const broken = new FakeTools({
      helm: () => ok(manifestOf(rendered)),
      kubectl: () => fail('Error from server (Forbidden): deployments.apps "api" is forbidden\n'),
    });
    await expect(releaseDrift("dev", [release()], broken)).rejects.toThrow(
      /kubectl get Deployment\.v1\.apps\/api .*failed: .*Forbidden/,
    );
  });

  it("reads the objects of the chart in helm/api: its HPA targets the Deployment, which then renders no replicas", async () => {
    const values = {
      image: { repository: "r.example/api", tag: "sha-1" },
      replicaCount: 2,
      autoscaling: {
        enabled: true,
        minReplicas: 2,
        maxReplicas: 4,
        targetCPUUtilizationPercentage: 70,
      },
    };
    const docs = (
      await helmTemplate(apiChartDir, values, { releaseName: "api", namespace: "api-dev" })
    )
      // helm get manifest leaves the hooks (the test pod) out.
      .filter((d) => !d.metadata.annotations?.["helm.sh/hook"]);
    const objects = parseManifest(release(), docs.map((d) => `---\n${stringify(d)}`).join(""));
    const deploy = objects.find((o) => o.kind === "Deployment")!;
    expect([...autoscaledTargets(objects)]).toEqual([`Deployment/${deploy.name}`]);
    expect((deploy.body.spec as Json).replicas).toBeUndefined();

    // The HPA scaled it to 3; someone edited the image.
    const live = Object.fromEntries(
      docs.map((d: Manifest) => [`${d.kind}/${d.metadata.name}`, structuredClone(d) as Json]),
    );
    const liveDeployment = live[`Deployment/${deploy.name}`]!;
    (liveDeployment.spec as Json).replicas = 3;
    const container = (
      ((liveDeployment.spec as Json).template as Json).spec as { containers: Json[] }
    ).containers[0]!;
    container.image = "r.example/api:edited";
    const report = await releaseDrift(
      "dev",
      [release()],
      cluster(docs.map((d) => `---\n${stringify(d)}`).join(""), live),
    );
    expect(report.differences.map((d) => [d.kind, d.path, d.live])).toEqual([
      [
        "Deployment",
        `spec.template.spec.containers[name=${String(container.name)}].image`,
        "r.example/api:edited",
      ],
    ]);
  });
});

describe("comparison details", () => {
  it("compares lists without unique names by index, and reports a missing subtree once", () => {
    expect(compareValues({ args: ["a", "b"] }, { args: ["a", "c"] })).toEqual([
      { path: "args[1]", rendered: "b", live: "c" },
    ]);
    expect(compareValues({ spec: { nodeSelector: { zone: "a" } } }, { spec: {} })).toEqual([
      { path: "spec.nodeSelector", rendered: { zone: "a" }, live: null },
    ]);
  });
  it("reads cluster-scoped kinds without a namespace, core kinds without a group", () => {
    const role = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      name: "reader",
      body: {},
    };
    expect(kubectlGetArgs(role, "api-dev")).toEqual([
      "get",
      "ClusterRole.v1.rbac.authorization.k8s.io/reader",
      "--output",
      "json",
    ]);
    const sa = {
      apiVersion: "v1",
      kind: "ServiceAccount",
      name: "api",
      namespace: "other",
      body: {},
    };
    expect(kubectlGetArgs(sa, "api-dev")).toEqual([
      "get",
      "ServiceAccount/api",
      "--output",
      "json",
      "--namespace",
      "other",
    ]);
  });
  it("refuses a manifest that is not Kubernetes YAML, naming the release", () => {
    expect(() => parseManifest(release(), "kind: [")).toThrow(/dev: api .*not valid YAML/);
    expect(() => parseManifest(release(), "just: text\n")).toThrow(/no apiVersion, kind/);
  });
});

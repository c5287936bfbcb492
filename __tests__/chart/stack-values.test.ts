import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { apiChartDir, type Manifest, manifestOf } from "../helpers/helm";
import { only, synthesized } from "../helpers/synth";
import {
  ENVIRONMENTS,
  type Environment,
  renderEnvironment,
  type StackRelease,
  stackRelease,
} from "./environments";
import { WORKLOAD_ENV_LABEL, environmentNamespace } from "../../config/names";

/** Every file of a folder, relative to it. */
function chartFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    const relative = prefix ? `${prefix}/${name}` : name;
    return statSync(full).isDirectory() ? chartFiles(full, relative) : [relative];
  });
}

interface Container {
  image: string;
  env: { name: string; value: string }[];
}

describe.each(ENVIRONMENTS)("the %s stack's helm_release", (env: Environment) => {
  let release: StackRelease;
  let docs: Manifest[];

  beforeAll(async () => {
    release = stackRelease(env);
    docs = await renderEnvironment(env);
  });

  it("ships this chart, unchanged, as its asset", () => {
    const files = chartFiles(apiChartDir).sort();
    expect(chartFiles(release.chartDir).sort()).toEqual(files);
    for (const file of files) {
      expect(readFileSync(path.join(release.chartDir, file), "utf8"), file).toBe(
        readFileSync(path.join(apiChartDir, file), "utf8"),
      );
    }
  });

  it("refers to nothing but the shared registry's URL", () => {
    const references = [...release.rawValues.matchAll(/\$\{[^}]*\}/g)].map((m) => m[0]);
    expect(references).toEqual([
      expect.stringMatching(
        /^\$\{data\.terraform_remote_state\.[\w-]+\.outputs\.[\w-]*ecr[\w-]*\}$/,
      ),
    ]);
  });

  it("installs into its own namespace, labelled for Pod Security restricted (invariant 21)", () => {
    expect(release.options.namespace).toBe(environmentNamespace(env));
    const namespace = only(synthesized(env), "kubernetes_namespace_v1") as unknown as {
      metadata: { name: string; labels: Record<string, string> };
    };
    expect(namespace.metadata.name).toBe(release.options.namespace);
    expect(namespace.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  it("renders every object into that namespace", () => {
    expect(docs.map((d) => d.metadata.namespace)).toEqual(
      docs.map(() => environmentNamespace(env)),
    );
  });

  it("runs the configured image, environment and node group", () => {
    const deployment = manifestOf(docs, "Deployment") as unknown as {
      spec: {
        template: { spec: { containers: Container[]; nodeSelector: Record<string, string> } };
      };
    };
    const pod = deployment.spec.template.spec;
    const image = release.values.image as { repository: string; tag: string };
    expect(image.tag).toMatch(/^(sha-[0-9a-f]{40}|release-\d+\.\d+\.\d+)$/);
    expect(pod.containers[0].image).toBe(`${image.repository}:${image.tag}`);
    expect(pod.containers[0].image).toMatch(/^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\//);
    const vars = Object.fromEntries(pod.containers[0].env.map((e) => [e.name, e.value]));
    expect(vars.APP_ENV).toBe(env);
    expect(pod.nodeSelector).toEqual({ [WORKLOAD_ENV_LABEL]: env });
  });
});

/**
 * Cross-stack wiring: dev and prod read the cluster and the registry from the shared stack's state
 * (terraform_remote_state of shared's S3 key), never by hard-coded names, and the RBAC group they
 * bind is the one shared gives their deploy role.
 */
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../config";
import { settings } from "../../config/settings";
import { dataSources, one, only, ref, resources, synthesized } from "./stack-helpers";

const shared = synthesized("shared");
const REMOTE_REF = /data\.terraform_remote_state\.([^.]+)\.outputs\.([A-Za-z0-9_-]+)/g;

describe.each(ENVIRONMENTS)("%s reads shared's outputs", (env) => {
  const json = synthesized(env);
  const text = JSON.stringify(json);

  it("through one terraform_remote_state of shared's S3 backend key", () => {
    const remote = one(dataSources(json, "terraform_remote_state"));
    const backend = shared.terraform.backend!.s3;
    expect(remote.backend).toBe("s3");
    expect(remote.config).toMatchObject({
      bucket: backend.bucket,
      key: backend.key,
      region: backend.region,
      encrypt: true,
    });
    expect(backend.key).toBe("shared/terraform.tfstate");
  });

  it("for exactly the cluster's name, endpoint and CA and the registry URL", () => {
    const used = new Set([...text.matchAll(REMOTE_REF)].map((m) => m[2]));
    const sharedValues = [...used].map((name) => {
      expect(shared.output, `shared has no output ${name}`).toHaveProperty([name]);
      return shared.output![name].value;
    });
    const cluster = only(shared, "aws_eks_cluster");
    const registry = only(shared, "aws_ecr_repository");
    expect(sharedValues.sort()).toEqual(
      [
        ref(cluster, "name"),
        ref(cluster, "endpoint"),
        ref(cluster, "certificate_authority[0].data"),
        ref(registry, "repository_url"),
      ].sort(),
    );
  });

  it("with no cluster name, endpoint or registry written into the stack", () => {
    const exec = one(one(json.provider?.kubernetes).exec);
    expect((exec.args as string[])[3]).toMatch(/^\$\{data\.terraform_remote_state\./);
    expect(String(one(json.provider?.kubernetes).host)).toMatch(
      /^\$\{data\.terraform_remote_state\./,
    );
    // The project name is the cluster's name; it may appear in the AWS default tags, nowhere else.
    const wiring = JSON.stringify({
      kubernetes: json.provider?.kubernetes,
      helm: json.provider?.helm,
      resource: json.resource,
      data: json.data,
    });
    expect(wiring).not.toMatch(/\.dkr\.ecr\.|\.eks\.amazonaws\.com/);
    expect(wiring).not.toContain(`"${settings.shared.project}"`);
  });

  it("binds the Kubernetes group that shared puts on the deploy role's access entry", () => {
    const role = only(
      shared,
      "aws_iam_role",
      (r) => r.name === `${settings.shared.project}-deploy-${env}`,
    );
    const entry = only(shared, "aws_eks_access_entry", (e) => e.principal_arn === ref(role, "arn"));
    const subjects = [
      ...resources(json, "kubernetes_cluster_role_binding_v1"),
      ...resources(json, "kubernetes_role_binding_v1"),
    ].flatMap((b) => (b.subject as Array<{ name: string }>).map((x) => x.name));
    expect(subjects.length).toBe(2);
    expect(new Set(subjects)).toEqual(new Set(entry.kubernetes_groups as string[]));
  });
});

import { describe, expect, it } from "vitest";
import {
  ADMISSION_PLUGINS,
  apiserverArgs,
  CLIENT_ENV,
  controllerManagerArgs,
  etcdArgs,
  kubeconfigContents,
  kwokArgs,
  planLayout,
  schedulerArgs,
  tokenFileContents,
} from "../../scripts/rehearse/cluster/control-plane";

function flag(args: readonly string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

describe("control-plane arguments", async () => {
  const layout = await planLayout("/tmp/cp", "/dev/shm/etcd");

  it("picks distinct free ports", () => {
    const ports = [
      layout.etcdClientPort,
      layout.etcdPeerPort,
      layout.apiserverPort,
      layout.controllerManagerPort,
      layout.schedulerPort,
      layout.kwokPort,
    ];
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) expect(port).toBeGreaterThan(0);
  });

  it("binds every component to 127.0.0.1 only", () => {
    expect(flag(apiserverArgs(layout), "bind-address")).toBe("127.0.0.1");
    expect(flag(controllerManagerArgs(layout), "bind-address")).toBe("127.0.0.1");
    expect(flag(schedulerArgs(layout), "bind-address")).toBe("127.0.0.1");
    expect(flag(kwokArgs(layout, []), "server-address")).toBe(`127.0.0.1:${layout.kwokPort}`);
    const etcd = etcdArgs(layout);
    for (const name of ["listen-client-urls", "listen-peer-urls"]) {
      expect(flag(etcd, name)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
  });

  it("authenticates with tokens and service-account keys, and enforces Pod Security and quotas", () => {
    const args = apiserverArgs(layout);
    expect(flag(args, "token-auth-file")).toBe(layout.tokenFile);
    expect(flag(args, "anonymous-auth")).toBe("false");
    expect(flag(args, "authorization-mode")).toBe("RBAC");
    expect(flag(args, "service-account-signing-key-file")).toBe(layout.serviceAccountPrivateKey);
    expect(flag(args, "enable-admission-plugins")?.split(",")).toEqual(
      expect.arrayContaining(["PodSecurity", "ResourceQuota", "LimitRanger"]),
    );
    expect(ADMISSION_PLUGINS).toContain("PodSecurity");
    expect(flag(controllerManagerArgs(layout), "service-account-private-key-file")).toBe(
      layout.serviceAccountPrivateKey,
    );
    expect(flag(args, "etcd-servers")).toBe(`http://127.0.0.1:${layout.etcdClientPort}`);
  });

  it("keeps clients off streaming lists, which etcd 3.4 cannot back", () => {
    expect(apiserverArgs(layout)).toContain("--feature-gates=WatchList=false");
    expect(controllerManagerArgs(layout)).toContain("--feature-gates=WatchListClient=false");
    expect(schedulerArgs(layout)).toContain("--feature-gates=WatchListClient=false");
    expect(CLIENT_ENV).toEqual({ KUBE_FEATURE_WatchListClient: "false" });
  });

  it("hands kwok its stages and only the nodes annotated for it", () => {
    const args = kwokArgs(layout, ["/a.yaml", "/b.yaml"]);
    expect(args.filter((a) => a.startsWith("--config="))).toEqual([
      "--config=/a.yaml",
      "--config=/b.yaml",
    ]);
    expect(flag(args, "manage-nodes-with-annotation-selector")).toBe("kwok.x-k8s.io/node=fake");
  });

  it("writes one token line per identity, groups quoted", () => {
    const lines = tokenFileContents(layout.tokens).trim().split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe(
      `${layout.tokens.admin},rehearsal-admin,rehearsal-admin,"system:masters"`,
    );
    expect(lines).toContain(
      `${layout.tokens.scheduler},system:kube-scheduler,system:kube-scheduler`,
    );
    expect(new Set(Object.values(layout.tokens)).size).toBe(4);
  });

  it("writes kubeconfigs that verify the server's certificate", () => {
    const config = JSON.parse(kubeconfigContents("https://127.0.0.1:1", "/ca.crt", "t")) as {
      clusters: { cluster: Record<string, unknown> }[];
    };
    expect(config.clusters[0]!.cluster).toEqual({
      server: "https://127.0.0.1:1",
      "certificate-authority": "/ca.crt",
    });
  });
});

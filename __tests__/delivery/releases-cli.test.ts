/**
 * recover-releases and release-drift through the command line, with helm and kubectl replaced by
 * shell scripts (HELM_BIN, KUBECTL_BIN) that answer from files; and plan-stacks.sh with
 * RELEASE_DRIFT=1 feeding the drift issue.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { main } from "../../scripts/delivery/cli";
import { planFolderObservation } from "../../scripts/delivery/drift";
import { readPlanDirectory } from "../../scripts/delivery/plan-files";

const repoRoot = join(__dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "delivery-releases-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fake helm: history and manifests from $FAKE_DIR, rollback/uninstall recorded in $FAKE_DIR/calls. */
const FAKE_HELM = `#!/usr/bin/env bash
echo "helm $*" >>"$FAKE_DIR/calls"
case "$1 $2" in
  "history "*)
    [ -f "$FAKE_DIR/$2.history.json" ] || { echo "Error: release: not found" >&2; exit 1; }
    cat "$FAKE_DIR/$2.history.json" ;;
  "get manifest")
    [ -f "$FAKE_DIR/$3.manifest.yaml" ] || { echo "Error: release: not found" >&2; exit 1; }
    cat "$FAKE_DIR/$3.manifest.yaml" ;;
  "rollback "*|"uninstall "*)
    [ -f "$FAKE_DIR/fail-$1" ] && { echo "Error: $1 failed: timed out waiting for the condition" >&2; exit 1; }
    echo "done" ;;
  *) echo "fake helm: unexpected $*" >&2; exit 3 ;;
esac
`;
/** A fake kubectl: `get <resource>/<name>` answers $FAKE_DIR/live/<resource>_<name>.json. */
const FAKE_KUBECTL = `#!/usr/bin/env bash
echo "kubectl $*" >>"$FAKE_DIR/calls"
[ -f "$FAKE_DIR/kubectl-broken" ] && { echo "error: You must be logged in to the server (Unauthorized)" >&2; exit 1; }
file="$FAKE_DIR/live/\${2/\\//_}.json"
[ -f "$file" ] || { echo "Error from server (NotFound): \${2%%/*} \\"\${2#*/}\\" not found" >&2; exit 1; }
cat "$file"
`;

function executable(file: string, text: string): string {
  writeFileSync(file, text);
  chmodSync(file, 0o755);
  return file;
}
const bin = join(work, "bin");
mkdirSync(bin);
const helm = executable(join(bin, "helm"), FAKE_HELM);
const kubectl = executable(join(bin, "kubectl"), FAKE_KUBECTL);

/** A synthesized dev stack with one release in a namespace of the stack. */
const STACK = {
  resource: {
    helm_release: {
      Api_Release_C73DB1C1: {
        name: "api",
        namespace: "${kubernetes_namespace_v1.Api_Namespace_8F27A0A3.metadata[0].name}",
        timeout: 300,
      },
    },
    kubernetes_namespace_v1: { Api_Namespace_8F27A0A3: { metadata: { name: "api-dev" } } },
  },
};
const DEPLOYMENT = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "api", namespace: "api-dev" },
  spec: {
    replicas: 2,
    template: { spec: { containers: [{ name: "api", image: "r.example/api:sha-1" }] } },
  },
};
const SERVICE = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "api", namespace: "api-dev" },
  spec: { type: "ClusterIP" },
};

/** Writes the stack under `<root>/cdktf.out` and the cluster's answers into a fresh fake folder. */
function setUp(root: string, cluster: { history?: unknown; live?: Record<string, unknown> }) {
  mkdirSync(join(root, "cdktf.out", "stacks", "dev"), { recursive: true });
  writeFileSync(join(root, "cdktf.out", "stacks", "dev", "cdk.tf.json"), JSON.stringify(STACK));
  const fake = join(root, "fake");
  rmSync(fake, { recursive: true, force: true });
  mkdirSync(join(fake, "live"), { recursive: true });
  if (cluster.history)
    writeFileSync(join(fake, "api.history.json"), JSON.stringify(cluster.history));
  writeFileSync(
    join(fake, "api.manifest.yaml"),
    [DEPLOYMENT, SERVICE]
      .map((o) => `---\n# Source: api/templates/x.yaml\n${stringify(o)}`)
      .join(""),
  );
  for (const [name, object] of Object.entries(cluster.live ?? {}))
    writeFileSync(join(fake, "live", `${name}.json`), JSON.stringify(object));
  return fake;
}

async function run(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe("recover-releases and release-drift on the command line", () => {
  const root = join(work, "cli");
  const outdir = join(root, "cdktf.out");
  let fake = "";
  const calls = () => readFileSync(join(fake, "calls"), "utf8").trim().split("\n");
  beforeEach(() => {
    vi.stubEnv("HELM_BIN", helm);
    vi.stubEnv("KUBECTL_BIN", kubectl);
  });
  afterEach(() => vi.unstubAllEnvs());
  const use = (cluster: Parameters<typeof setUp>[1]) => {
    fake = setUp(root, cluster);
    vi.stubEnv("FAKE_DIR", fake);
  };

  it("recover-releases rolls a pending release back and prints recovered=1", async () => {
    use({
      history: [
        { revision: 1, status: "deployed" },
        { revision: 2, status: "pending-upgrade" },
      ],
    });
    const result = await run("recover-releases", "--env", "dev", "--outdir", outdir);
    expect(result).toMatchObject({ code: 0, stdout: "recovered=1\n" });
    expect(result.stderr).toMatch(
      /dev: api \(namespace api-dev, helm_release\.Api_Release_C73DB1C1\): revision 2 is pending-upgrade/,
    );
    expect(calls()).toEqual([
      "helm history api --namespace api-dev --output json",
      "helm rollback api 1 --namespace api-dev --wait --timeout 300s",
    ]);
  });

  it("recover-releases exits 1 with helm's message when the rollback fails", async () => {
    use({ history: [{ revision: 1, status: "pending-install" }] });
    writeFileSync(join(fake, "fail-uninstall"), "");
    const result = await run("recover-releases", "--env", "dev", "--outdir", outdir);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(
      /error: dev: api .*helm uninstall failed: Error: uninstall failed: timed out/,
    );
  });

  it("recover-releases prints recovered=0 for a release not installed yet", async () => {
    use({});
    const result = await run("recover-releases", "--env", "dev", "--outdir", outdir);
    expect(result).toMatchObject({ code: 0, stdout: "recovered=0\n" });
  });

  it("release-drift writes the differences to --out and prints drifted=<n>", async () => {
    use({
      live: {
        "Deployment.v1.apps_api": {
          ...DEPLOYMENT,
          spec: { ...DEPLOYMENT.spec, replicas: 3 },
          status: { replicas: 3 },
        },
      },
    });
    const file = join(root, "dev.releases.json");
    const result = await run("release-drift", "--env", "dev", "--outdir", outdir, "--out", file);
    expect(result).toMatchObject({ code: 0, stdout: "drifted=2\n" });
    expect(result.stderr).toMatch(/Deployment\/api spec\.replicas: rendered 2, live 3/);
    expect(result.stderr).toMatch(/Service\/api \(namespace api-dev\): missing from the cluster/);
    const report = JSON.parse(readFileSync(file, "utf8")) as { differences: unknown[] };
    expect(report.differences).toEqual([
      expect.objectContaining({ kind: "Deployment", path: "spec.replicas", rendered: 2, live: 3 }),
      expect.objectContaining({ kind: "Service", path: "(object)", live: null }),
    ]);
  });

  it("release-drift exits 1 when kubectl cannot be run or cannot answer", async () => {
    use({});
    vi.stubEnv("KUBECTL_BIN", join(bin, "no-such-kubectl"));
    const missing = await run("release-drift", "--env", "dev", "--outdir", outdir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot run .*no-such-kubectl.*KUBECTL_BIN/);
    vi.stubEnv("KUBECTL_BIN", kubectl);
    writeFileSync(join(fake, "kubectl-broken"), "");
    const broken = await run("release-drift", "--env", "dev", "--outdir", outdir);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/Unauthorized/);
  });

  it("both need --env and a synthesized stack", async () => {
    expect((await run("release-drift")).code).toBe(2);
    const absent = await run("recover-releases", "--env", "dev", "--outdir", join(root, "none"));
    expect(absent.code).toBe(1);
    expect(absent.stderr).toMatch(/cannot read the synthesized stack .*run npm run synth first/);
  });
});

describe("plan-stacks.sh with RELEASE_DRIFT=1", () => {
  // A copy of the script in a scratch repository: its own cdktf.out, a terraform that plans no
  // changes, and the delivery CLI of this repository.
  const root = join(work, "repo");
  mkdirSync(join(root, "scripts", "delivery"), { recursive: true });
  copyFileSync(
    join(repoRoot, "scripts", "delivery", "plan-stacks.sh"),
    join(root, "scripts", "delivery", "plan-stacks.sh"),
  );
  writeFileSync(
    join(root, "package.json"),
    JSON.stringify({
      name: "scratch",
      private: true,
      scripts: { delivery: `tsx ${join(repoRoot, "scripts", "delivery", "cli.ts")}` },
    }),
  );
  const clean = join(__dirname, "fixtures", "plan-dirs", "clean", "dev.json");
  executable(
    join(bin, "terraform"),
    `#!/usr/bin/env bash
case " $* " in
  *" show -json "*) cat "${clean}" ;;
  *" show "*) echo "No changes." ;;
  *) echo "fake terraform $*" ;;
esac
`,
  );
  const planStacks = (fake: string) =>
    spawnSync(
      "bash",
      [
        join(root, "scripts", "delivery", "plan-stacks.sh"),
        "--skip-synth",
        "plans",
        "dev",
        "shared",
      ],
      {
        cwd: root,
        encoding: "utf8",
        env: {
          ...process.env,
          PATH: `${bin}:${join(repoRoot, "node_modules", ".bin")}:${process.env.PATH}`,
          RELEASE_DRIFT: "1",
          HELM_BIN: helm,
          KUBECTL_BIN: kubectl,
          FAKE_DIR: fake,
          TF_CLI_CONFIG_FILE: "/dev/null",
        },
      },
    );

  it("writes <stack>.releases.json for a stack with releases, and the drift issue reports it", () => {
    const fake = setUp(root, {
      live: { "Deployment.v1.apps_api": DEPLOYMENT, Service_api: SERVICE },
    });
    const edited = structuredClone(DEPLOYMENT);
    edited.spec.template.spec.containers[0]!.image = "r.example/api:edited";
    writeFileSync(join(fake, "live", "Deployment.v1.apps_api.json"), JSON.stringify(edited));
    mkdirSync(join(root, "cdktf.out", "stacks", "shared"), { recursive: true });
    writeFileSync(join(root, "cdktf.out", "stacks", "shared", "cdk.tf.json"), "{}");

    const result = planStacks(fake);
    expect(result.stderr + result.stdout).not.toMatch(/failed/);
    expect(result.status).toBe(0);
    const plans = join(root, "plans");
    expect(existsSync(join(plans, "dev.releases.json"))).toBe(true);
    expect(existsSync(join(plans, "shared.releases.json"))).toBe(false);

    const observation = planFolderObservation(
      plans,
      "https://github.com/o/n/actions/runs/9",
      "c".repeat(40),
    );
    expect(observation.state).toBe("problem");
    expect(observation.body).toContain(
      '| `dev` | `api` | `Deployment/api` in `api-dev` | `spec.template.spec.containers[name=api].image` | `"r.example/api:sha-1"` | `"r.example/api:edited"` |',
    );
  });

  it("a failed comparison is reported like a failed plan", () => {
    const fake = setUp(root, {});
    writeFileSync(join(fake, "kubectl-broken"), "");
    const result = planStacks(fake);
    expect(result.status).toBe(1);
    const log = readFileSync(join(root, "plans", "dev.error.log"), "utf8");
    expect(log).toMatch(/release-drift dev failed/);
    expect(log).toMatch(/Unauthorized/);
    expect(existsSync(join(root, "plans", "dev.releases.json"))).toBe(false);
    expect(readPlanDirectory(join(root, "plans")).find((s) => s.stack === "dev")?.status).toBe(
      "failed",
    );
  });
});

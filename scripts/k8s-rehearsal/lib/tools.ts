/**
 * Provides every tool the rehearsal needs, idempotently: etcd (Debian package), kwok (Go module,
 * cached under .tools/k8s/), the control-plane binaries (built by build-control-plane.sh, cached
 * under .tools/k8s/) and helm (.tools/bin/helm from scripts/tools.sh). A tool that cannot be
 * provided is an error naming it and how to install it.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Binaries } from "./control-plane";
import { onPath, RehearsalError, run } from "./processes";

export const KWOK_VERSION = "v0.8.0";
export const KWOK_MODULE = "sigs.k8s.io/kwok";
/** kwok's own stage definitions the rehearsal uses (paths inside its module). */
export const KWOK_STAGE_DIRS = ["kustomize/stage/node/fast", "kustomize/stage/pod/fast"] as const;

type Step = (label: string, run: () => Promise<void>) => Promise<void>;

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

async function which(command: string): Promise<string | undefined> {
  const res = await run("sh", ["-c", 'command -v "$1"', "sh", command]);
  return res.status === 0 ? res.stdout.trim() : undefined;
}

/** etcd from PATH, or the Debian package `etcd-server` when running as root with apt. */
export async function ensureEtcd(): Promise<string> {
  const found = await which("etcd");
  if (found) return found;
  const hint =
    "etcd not found on PATH. Install etcd 3.4 or newer (Debian/Ubuntu: `sudo apt-get install -y etcd-server`; or https://etcd.io/docs/latest/install/).";
  if (!isRoot() || !onPath("apt-get")) throw new RehearsalError(hint);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  let res = await run("apt-get", ["install", "-y", "--no-install-recommends", "etcd-server"], {
    env,
  });
  if (res.status !== 0) {
    const update = await run("apt-get", ["update"], { env });
    if (update.status !== 0) throw new RehearsalError(`${hint}\napt-get update: ${update.stderr}`);
    res = await run("apt-get", ["install", "-y", "--no-install-recommends", "etcd-server"], {
      env,
    });
  }
  const installed = await which("etcd");
  if (res.status !== 0 || !installed) {
    throw new RehearsalError(`${hint}\napt-get install etcd-server: ${res.stderr.trim()}`);
  }
  return installed;
}

function requireGo(what: string): void {
  if (!onPath("go")) {
    throw new RehearsalError(
      `go not found on PATH; it is needed to build ${what}. Install Go >= 1.26 (https://go.dev/doc/install).`,
    );
  }
}

/**
 * kwok and its stage definitions under `<toolsDir>/k8s/kwok-<version>/`, installed with
 * `go install` (and the stages copied from the module) when missing.
 */
export async function ensureKwok(toolsDir: string): Promise<{ kwok: string; stages: string[] }> {
  const dir = join(toolsDir, "k8s", `kwok-${KWOK_VERSION}`);
  const kwok = join(dir, "kwok");
  const stagesDir = join(dir, "stages");
  const listStages = (): string[] =>
    existsSync(stagesDir)
      ? readdirSync(stagesDir)
          .filter((f) => f.endsWith(".yaml"))
          .sort()
          .map((f) => join(stagesDir, f))
      : [];
  if (existsSync(kwok) && listStages().length > 0) return { kwok, stages: listStages() };

  requireGo(`kwok ${KWOK_VERSION}`);
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, GOBIN: dir, GOFLAGS: "-buildvcs=false" };
  const install = await run("go", ["install", `${KWOK_MODULE}/cmd/kwok@${KWOK_VERSION}`], {
    env,
    cwd: dir,
  });
  if (install.status !== 0 || !existsSync(kwok)) {
    throw new RehearsalError(
      `could not install kwok: go install ${KWOK_MODULE}/cmd/kwok@${KWOK_VERSION} failed:\n${install.stderr.trim()}`,
    );
  }
  const download = await run("go", ["mod", "download", "-json", `${KWOK_MODULE}@${KWOK_VERSION}`], {
    env,
    cwd: dir,
  });
  const moduleDir =
    download.status === 0 ? (JSON.parse(download.stdout) as { Dir?: string }).Dir : "";
  if (!moduleDir) {
    throw new RehearsalError(
      `could not locate the kwok module's stage definitions: go mod download ${KWOK_MODULE}@${KWOK_VERSION}: ${download.stderr.trim()}`,
    );
  }
  rmSync(stagesDir, { recursive: true, force: true });
  mkdirSync(stagesDir, { recursive: true });
  for (const stageDir of KWOK_STAGE_DIRS) {
    const from = join(moduleDir, stageDir);
    const prefix = stageDir.split("/").slice(-2).join("-");
    for (const file of readdirSync(from).filter(
      (f) => f.endsWith(".yaml") && f !== "kustomization.yaml",
    )) {
      copyFileSync(join(from, file), join(stagesDir, `${prefix}-${file}`));
    }
  }
  return { kwok, stages: listStages() };
}

/** kube-apiserver, kube-controller-manager, kube-scheduler and kubectl, built once and cached. */
export async function ensureControlPlaneBinaries(
  repoRoot: string,
  toolsDir: string,
): Promise<{ dir: string }> {
  requireGo("the control plane (kube-apiserver, kube-controller-manager, kube-scheduler)");
  const script = join(repoRoot, "scripts", "k8s-rehearsal", "build-control-plane.sh");
  const child = await run("bash", [script], { env: { ...process.env, TOOLS_DIR: toolsDir } });
  process.stderr.write(child.stderr);
  const dir = child.stdout.trim().split("\n").pop() ?? "";
  if (child.status !== 0 || !dir || !existsSync(join(dir, "kube-apiserver"))) {
    throw new RehearsalError(
      `building the control plane failed (bash scripts/k8s-rehearsal/build-control-plane.sh):\n${child.stderr.trim()}`,
    );
  }
  return { dir };
}

/** helm from .tools/bin, running scripts/tools.sh once if it is missing. */
export async function ensureHelm(repoRoot: string, toolsDir: string): Promise<string> {
  const helm = join(toolsDir, "bin", "helm");
  if (existsSync(helm)) return helm;
  const res = await run("bash", [join(repoRoot, "scripts", "tools.sh")], {
    env: { ...process.env, TOOLS_DIR: toolsDir },
  });
  if (res.status !== 0 || !existsSync(helm)) {
    throw new RehearsalError(
      `helm not found at ${helm} and \`bash scripts/tools.sh\` could not install it (it builds helm with Go or takes it from PATH):\n${res.stderr.trim()}`,
    );
  }
  return helm;
}

/** Provides every tool, timing each. */
export async function ensureTools(
  repoRoot: string,
  toolsDir: string,
  extraStages: readonly string[],
  step: Step,
): Promise<Binaries> {
  let etcd = "";
  let helm = "";
  let kwok = { kwok: "", stages: [] as string[] };
  let controlPlane = { dir: "" };
  await step("tool: etcd", async () => void (etcd = await ensureEtcd()));
  await step("tool: helm", async () => void (helm = await ensureHelm(repoRoot, toolsDir)));
  await step(`tool: kwok ${KWOK_VERSION}`, async () => void (kwok = await ensureKwok(toolsDir)));
  await step(
    "tool: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl",
    async () => void (controlPlane = await ensureControlPlaneBinaries(repoRoot, toolsDir)),
  );
  return {
    etcd,
    helm,
    kwok: kwok.kwok,
    kwokStages: [...kwok.stages, ...extraStages],
    kubeApiserver: join(controlPlane.dir, "kube-apiserver"),
    kubeControllerManager: join(controlPlane.dir, "kube-controller-manager"),
    kubeScheduler: join(controlPlane.dir, "kube-scheduler"),
    kubectl: join(controlPlane.dir, "kubectl"),
  };
}

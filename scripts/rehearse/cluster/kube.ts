/** kubectl and helm against the rehearsal's control plane. */
import { RehearsalError, type Children } from "../processes";
import type { KubeItem } from "./readiness";

/** The outcome of a finished command (`status` 0 is success). */
export interface KubeResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class Clients {
  constructor(
    readonly children: Children,
    readonly kubectlPath: string,
    readonly helmPath: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  private async exec(
    command: string,
    args: readonly string[],
    input: string | undefined,
    timeoutMs: number,
  ): Promise<KubeResult> {
    const res = await this.children.run(command, args, { env: this.env, input, timeoutMs });
    return { status: res.code ?? 128, stdout: res.stdout, stderr: res.stderr };
  }

  kubectl(args: readonly string[], input?: string): Promise<KubeResult> {
    return this.exec(this.kubectlPath, args, input, 120_000);
  }

  helm(args: readonly string[]): Promise<KubeResult> {
    return this.exec(this.helmPath, args, undefined, 20 * 60_000);
  }

  /** kubectl that must succeed; the error names the command and quotes the server. */
  async kubectlOk(args: readonly string[], input?: string): Promise<string> {
    const res = await this.kubectl(args, input);
    if (res.status !== 0) {
      throw new RehearsalError(`kubectl ${args.join(" ")} failed:\n${res.stderr.trim()}`);
    }
    return res.stdout;
  }

  async helmOk(args: readonly string[]): Promise<KubeResult> {
    const res = await this.helm(args);
    if (res.status !== 0) {
      throw new RehearsalError(
        `helm ${args.join(" ")} failed:\n${(res.stderr || res.stdout).trim()}`,
      );
    }
    return res;
  }

  async getList<T = KubeItem>(
    kind: string,
    namespace?: string,
    selector?: string,
  ): Promise<{ items: T[] }> {
    const args = ["get", kind, "-o", "json"];
    if (namespace) args.push("-n", namespace);
    if (selector) args.push("-l", selector);
    return JSON.parse(await this.kubectlOk(args)) as { items: T[] };
  }

  async getJson<T>(kind: string, name: string, namespace?: string): Promise<T> {
    const args = ["get", kind, name, "-o", "json"];
    if (namespace) args.push("-n", namespace);
    return JSON.parse(await this.kubectlOk(args)) as T;
  }

  /** The release's current revision and status (`helm status -o json`). */
  async releaseStatus(
    name: string,
    namespace: string,
  ): Promise<{ version: number; status: string; description: string } | undefined> {
    const res = await this.helm(["status", name, "-n", namespace, "-o", "json"]);
    if (res.status !== 0) return undefined;
    const release = JSON.parse(res.stdout) as {
      version: number;
      info: { status: string; description: string };
    };
    return {
      version: release.version,
      status: release.info.status,
      description: release.info.description,
    };
  }
}

/** `key=value,...` for a label selector. */
export function selectorString(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/**
 * A helm post-renderer that breaks the rendered chart on purpose, so the rehearsal can show what
 * the API server says about it. Reads the manifests on stdin, writes them changed to stdout.
 *
 *   tsx scripts/k8s-rehearsal/post-render.ts <breakage>
 *
 * Breakages (each changes every Deployment's pod template):
 *   privilege-escalation   containers allow privilege escalation and may run as root
 *                          (violates Pod Security "restricted")
 *   selector-mismatch      the pod labels no longer match the Deployment's selector
 */
import { parseAllDocuments, stringify } from "yaml";

export const BREAKAGES = ["privilege-escalation", "selector-mismatch"] as const;
export type Breakage = (typeof BREAKAGES)[number];

type Obj = Record<string, unknown>;

function podTemplateSpec(doc: Obj): { meta: Obj; spec: Obj } | undefined {
  if (doc.kind !== "Deployment") return undefined;
  const template = (doc.spec as Obj | undefined)?.template as Obj | undefined;
  if (!template) return undefined;
  template.metadata ??= {};
  template.spec ??= {};
  return { meta: template.metadata as Obj, spec: template.spec as Obj };
}

/** Applies one breakage to the parsed documents; returns how many Deployments it changed. */
export function breakManifests(docs: Obj[], breakage: Breakage): number {
  let changed = 0;
  for (const doc of docs) {
    const pod = podTemplateSpec(doc);
    if (!pod) continue;
    changed++;
    if (breakage === "privilege-escalation") {
      const podSecurity = (pod.spec.securityContext ??= {}) as Obj;
      podSecurity.runAsNonRoot = false;
      podSecurity.runAsUser = 0;
      for (const container of (pod.spec.containers ?? []) as Obj[]) {
        const security = (container.securityContext ??= {}) as Obj;
        security.allowPrivilegeEscalation = true;
        security.runAsNonRoot = false;
        security.runAsUser = 0;
      }
    } else {
      const labels = (pod.meta.labels ??= {}) as Record<string, string>;
      const selector = ((doc.spec as Obj).selector as Obj | undefined)?.matchLabels as
        Record<string, string> | undefined;
      for (const key of Object.keys(selector ?? {})) labels[key] = `${labels[key] ?? ""}-broken`;
    }
  }
  return changed;
}

/** Parses a YAML stream, breaks it and prints it back. */
export function postRender(input: string, breakage: Breakage): string {
  const docs = parseAllDocuments(input)
    .map((d) => d.toJSON() as Obj | null)
    .filter((d): d is Obj => d !== null && typeof d === "object");
  if (breakManifests(docs, breakage) === 0) {
    throw new Error(`post-render: no Deployment to apply "${breakage}" to`);
  }
  return docs.map((d) => `---\n${stringify(d)}`).join("");
}

function main(): void {
  const breakage = process.argv[2] as Breakage;
  if (!BREAKAGES.includes(breakage)) {
    process.stderr.write(`usage: post-render.ts <${BREAKAGES.join("|")}>\n`);
    process.exit(2);
  }
  let input = "";
  process.stdin.on("data", (chunk: Buffer) => (input += chunk.toString()));
  process.stdin.on("end", () => {
    try {
      process.stdout.write(postRender(input, breakage));
    } catch (error) {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    }
  });
}

if (require.main === module) main();

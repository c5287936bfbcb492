/**
 * The configuration's error type and the small, pure helpers its schema (`schema.ts`) and the
 * constructs share: CIDR arithmetic, Kubernetes quantities, cron and time zones, name grammars.
 */

/** A problem with one configuration field. */
export interface ConfigIssue {
  /** Field path (`environments.prod.api.replicas`) or environment variable (`IMAGE_TAG_PROD`). */
  readonly field: string;
  /** The offending value, as given. */
  readonly value: unknown;
  /** What is allowed. */
  readonly allowed: string;
}

/** Thrown when the configuration is invalid; carries every problem found, not only the first. */
export class ConfigError extends Error {
  constructor(public readonly issues: readonly ConfigIssue[]) {
    super(
      `invalid configuration (${issues.length} problem${issues.length === 1 ? "" : "s"}):\n` +
        issues.map((i) => `  - ${i.field}: got ${show(i.value)}; ${i.allowed}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

function show(value: unknown): string {
  if (value === undefined) return "nothing";
  return JSON.stringify(value);
}

/** Collects issues; `check` records one when `ok` is false. */
export class Issues {
  readonly list: ConfigIssue[] = [];
  check(ok: boolean, field: string, value: unknown, allowed: string): boolean {
    if (!ok) this.list.push({ field, value, allowed });
    return ok;
  }
}

/** A Kubernetes namespace name: an RFC 1123 label of at most 63 characters. */
export const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** OCI distribution spec tag grammar. */
export const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** Parses `a.b.c.d/n` into a 32-bit network address and prefix, or undefined. */
export function parseCidr(cidr: unknown): { network: number; prefix: number } | undefined {
  if (typeof cidr !== "string") return undefined;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) return undefined; // host bits set: 10.0.0.1/16 is not a network
  return { network: address, prefix };
}

/** True when two parsed CIDRs share any address. */
export function cidrsOverlap(
  a: { network: number; prefix: number },
  b: { network: number; prefix: number },
): boolean {
  const aEnd = a.network + 2 ** (32 - a.prefix);
  const bEnd = b.network + 2 ** (32 - b.prefix);
  return a.network < bEnd && b.network < aEnd;
}

/** Formats a 32-bit address with a prefix as CIDR text. */
export function formatCidr(network: number, prefix: number): string {
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
  return `${octets.join(".")}/${prefix}`;
}

/** Kubernetes CPU quantity in millicores (`250m`, `0.5`, `2`), or undefined. */
export function parseCpu(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const milli = m[2] === "m" ? n : n * 1000;
  return milli > 0 ? milli : undefined;
}

const MEMORY_UNITS: Record<string, number> = {
  "": 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Kubernetes memory quantity in bytes (`128Mi`, `1Gi`, `500M`), or undefined. */
export function parseMemory(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(value);
  if (!m) return undefined;
  const bytes = Number(m[1]) * MEMORY_UNITS[m[2] ?? ""];
  return bytes > 0 ? bytes : undefined;
}

const CRON_FIELDS: ReadonlyArray<{ name: string; min: number; max: number; names?: string[] }> = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  },
  {
    name: "day of week",
    min: 0,
    max: 7,
    names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
  },
];

/** Checks a five-field Unix cron expression, as EC2 Auto Scaling scheduled actions take. */
export function cronProblem(expr: unknown): string | undefined {
  if (typeof expr !== "string") return "not a string";
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) return `${fields.length} fields instead of 5`;
  for (let i = 0; i < 5; i++) {
    const spec = CRON_FIELDS[i];
    const value = (token: string): number | undefined => {
      const lower = token.toLowerCase();
      const named = spec.names?.indexOf(lower) ?? -1;
      if (named >= 0) return named + (spec.name === "month" ? 1 : 0);
      if (!/^\d+$/.test(token)) return undefined;
      const n = Number(token);
      return n >= spec.min && n <= spec.max ? n : undefined;
    };
    for (const part of fields[i].split(",")) {
      const [range, step] = part.split("/");
      if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `bad step in ${spec.name}`;
      if (range === "*") continue;
      const bounds = range.split("-");
      if (bounds.length > 2 || bounds.some((b) => value(b) === undefined)) {
        return `bad ${spec.name} "${part}" (allowed ${spec.min}-${spec.max})`;
      }
      if (bounds.length === 2 && value(bounds[0])! > value(bounds[1])!) {
        return `reversed range in ${spec.name}`;
      }
    }
  }
  return undefined;
}

/** True for an IANA time zone name that this runtime knows. */
export function isTimeZone(tz: unknown): boolean {
  if (typeof tz !== "string" || tz.length === 0) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** EC2 instance type names: family, generation and attributes, a dot, and a size. */
export const INSTANCE_TYPE =
  /^[a-z]+[0-9][a-z0-9-]*\.(nano|micro|small|medium|large|metal|[0-9]*xlarge|metal-[0-9]+xl)$/;

/** True when an instance type runs arm64 (AWS Graviton families carry a `g` after the generation). */
export function isArmInstanceType(instanceType: string): boolean {
  return (
    /^[a-z]+[0-9]+[a-z]*g[a-z]*\./.test(instanceType) && !/^(g|p|inf|trn|dl)/.test(instanceType)
  );
}

/** Retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
];

/**
 * The candidate a misspelt word most likely meant: at most two edits away (an edit inserts,
 * deletes, replaces or swaps neighbouring letters; case is ignored), or undefined.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const distance = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [
      i,
      ...Array<number>(b.length).fill(0),
    ]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        const cost = a[i - 1] === b[j - 1] ? 0 : 1;
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length][b.length];
  };
  let best: { candidate: string; edits: number } | undefined;
  for (const candidate of candidates) {
    const edits = distance(word.toLowerCase(), candidate.toLowerCase());
    if (edits <= 2 && edits < candidate.length / 2 && (!best || edits < best.edits)) {
      best = { candidate, edits };
    }
  }
  return best?.candidate;
}

/**
 * A state lock that no run holds any more. A deploy killed mid-apply (a runner lost, a job killed
 * with SIGKILL) never releases its S3 lock object, and every later `cdktf deploy` of that workspace
 * then fails with "Error acquiring the state lock" until a person runs `terraform force-unlock`.
 *
 * The deploy workflows of one environment share a concurrency group that never cancels a run in
 * progress (deploy-dev for dev; release and rollback for prod), so when a deploy job starts, no other
 * run of that workspace exists: a lock it finds is stale by construction, and is released here.
 * Plans never take the lock (`-lock=false`), so they cannot be the holder.
 */
import { stripAnsi } from "./text";

/** The lock holder terraform reports when it cannot acquire a state lock. */
export interface LockError {
  readonly id?: string;
  readonly path?: string;
  readonly operation?: string;
  readonly who?: string;
  readonly created?: string;
}

/** Parses terraform's "Error acquiring the state lock" block; undefined when there is none. */
export function parseLockError(output: string): LockError | undefined {
  const text = stripAnsi(output).replace(/^\s*│\s?/gm, "");
  if (!/Error acquiring the state lock/.test(text)) return undefined;
  const field = (name: string) => text.match(new RegExp(`^\\s*${name}:\\s*(.+)$`, "m"))?.[1].trim();
  return {
    id: field("ID"),
    path: field("Path"),
    operation: field("Operation"),
    who: field("Who"),
    created: field("Created"),
  };
}

/** Runs terraform in the stack's folder; tests pass a fake. */
export type Terraform = (args: readonly string[]) => Promise<{ code: number; output: string }>;

/** What {@link releaseStaleLock} found and did. */
export interface LockRecovery {
  readonly released: boolean;
  readonly lock?: LockError;
}

/**
 * Asks terraform for the workspace's lock with a plan that targets nothing and refreshes nothing
 * (it takes the lock first, then has no work), and force-unlocks a lock another run left.
 */
export async function releaseStaleLock(
  terraform: Terraform,
  log: (line: string) => void,
): Promise<LockRecovery> {
  const init = await terraform(["init", "-input=false", "-no-color"]);
  if (init.code !== 0) throw new Error(`terraform init failed:\n${init.output.trim()}`);
  const probe = await terraform([
    "plan",
    "-input=false",
    "-no-color",
    "-lock-timeout=0s",
    "-refresh=false",
    "-target=terraform_data.lock_probe",
  ]);
  const lock = parseLockError(probe.output);
  if (!lock) {
    log("state lock: free");
    return { released: false };
  }
  if (!lock.id) throw new Error(`terraform reported a lock without an ID:\n${probe.output.trim()}`);
  log(
    `state lock: held by ${lock.who ?? "?"} (${lock.operation ?? "?"}, created ${lock.created ?? "?"}); no other run of this workspace can be in progress, so it is stale: releasing it`,
  );
  const unlock = await terraform(["force-unlock", "-force", lock.id]);
  if (unlock.code !== 0) {
    throw new Error(`terraform force-unlock ${lock.id} failed:\n${unlock.output.trim()}`);
  }
  return { released: true, lock };
}

/**
 * Image tags and release versions, derived from git.
 *
 * - `dev` runs `sha-<40-hex commit>`, built once per commit on `main`.
 * - `prod` runs `release-<semver>`, added to that same image when the git tag `release-<semver>`
 *   is pushed; `<semver>` must equal the API's package version.
 */
import { DeliveryError } from "./errors";

const COMMIT = /^[0-9a-f]{40}$/;
/** Semantic Versioning 2.0.0 (https://semver.org), without build metadata: OCI tags cannot hold `+`. */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?$/;
/** OCI distribution spec: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. */
const MAX_TAG_LENGTH = 128;
export const RELEASE_PREFIX = "release-";
export const SHA_PREFIX = "sha-";

/** A parsed semantic version. */
export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease: readonly string[];
  readonly text: string;
}

/** A validated `release-<semver>` tag. */
export interface ReleaseTag {
  readonly tag: string;
  readonly version: SemVer;
}

/** The image tag `dev` deploys for a commit. */
export function devImageTag(commit: string): string {
  const value = commit.trim();
  if (!COMMIT.test(value)) {
    throw new DeliveryError(
      `commit ${JSON.stringify(commit)} is not a full commit id: expected 40 lower-case hex characters (git rev-parse HEAD).`,
    );
  }
  return `${SHA_PREFIX}${value}`;
}

/** Parses a semantic version such as `1.4.0` or `2.0.0-rc.1`. */
export function parseSemver(text: string): SemVer {
  if (text.includes("+")) {
    throw new DeliveryError(
      `version ${JSON.stringify(text)} carries build metadata ("+..."), which an image tag cannot hold: use MAJOR.MINOR.PATCH[-PRERELEASE].`,
    );
  }
  const match = SEMVER.exec(text);
  if (!match) {
    throw new DeliveryError(
      `version ${JSON.stringify(text)} is not a semantic version: expected MAJOR.MINOR.PATCH[-PRERELEASE] without a leading "v" or leading zeros (https://semver.org).`,
    );
  }
  const numbers = [match[1], match[2], match[3]].map(Number);
  if (!numbers.every(Number.isSafeInteger)) {
    throw new DeliveryError(`version ${JSON.stringify(text)} has a number too large to compare.`);
  }
  return {
    major: numbers[0]!,
    minor: numbers[1]!,
    patch: numbers[2]!,
    prerelease: match[4] ? match[4].split(".") : [],
    text,
  };
}

/** Semantic Versioning precedence (section 11): negative when `a` < `b`. */
export function compareSemver(a: SemVer, b: SemVer): number {
  for (const key of ["major", "minor", "patch"] as const) {
    if (a[key] !== b[key]) return a[key] - b[key];
  }
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return b.prerelease.length - a.prerelease.length;
  }
  for (let i = 0; i < Math.min(a.prerelease.length, b.prerelease.length); i += 1) {
    const x = a.prerelease[i]!;
    const y = b.prerelease[i]!;
    if (x === y) continue;
    const xNum = /^\d+$/.test(x);
    const yNum = /^\d+$/.test(y);
    if (xNum && yNum) return Number(x) - Number(y);
    if (xNum !== yNum) return xNum ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.prerelease.length - b.prerelease.length;
}

/** Validates a git tag of the form `release-<semver>`. */
export function parseReleaseTag(tag: string): ReleaseTag {
  const shown = JSON.stringify(tag);
  if (tag.startsWith("refs/")) {
    throw new DeliveryError(
      `tag ${shown} is a ref: pass the tag name (GITHUB_REF_NAME), e.g. release-1.4.0.`,
    );
  }
  if (!tag.startsWith(RELEASE_PREFIX)) {
    throw new DeliveryError(
      `tag ${shown} must have the form release-<semver>, e.g. release-1.4.0.`,
    );
  }
  if (tag.length > MAX_TAG_LENGTH) {
    throw new DeliveryError(
      `tag ${shown} is ${tag.length} characters; an image tag holds at most ${MAX_TAG_LENGTH}.`,
    );
  }
  const versionText = tag.slice(RELEASE_PREFIX.length);
  if (/^v\d/i.test(versionText)) {
    throw new DeliveryError(`tag ${shown}: drop the "v": release-${versionText.slice(1)}.`);
  }
  return { tag, version: parseSemver(versionText) };
}

/**
 * The newest `release-<semver>` tag by semantic-version precedence, or `undefined` when there is
 * none. Tags that do not parse are ignored: the release workflow never deploys them.
 */
export function latestReleaseTag(tags: readonly string[]): string | undefined {
  let best: ReleaseTag | undefined;
  for (const raw of tags) {
    const tag = raw.trim();
    if (!tag.startsWith(RELEASE_PREFIX)) continue;
    let parsed: ReleaseTag;
    try {
      parsed = parseReleaseTag(tag);
    } catch {
      continue;
    }
    if (!best || compareSemver(parsed.version, best.version) > 0) best = parsed;
  }
  return best?.tag;
}

/**
 * Checks that a release tag names the API's package version; returns the parsed tag.
 * @param packageVersion the `version` field of `api/package.json`
 */
export function checkReleaseTag(tag: string, packageVersion: unknown): ReleaseTag {
  const release = parseReleaseTag(tag);
  if (typeof packageVersion !== "string" || packageVersion === "") {
    throw new DeliveryError(`api/package.json has no "version" string to compare ${tag} with.`);
  }
  if (release.version.text !== packageVersion) {
    throw new DeliveryError(
      `tag ${tag} says version ${release.version.text}, but api/package.json is at ${packageVersion}: bump the package version on main first, then tag release-${packageVersion}.`,
    );
  }
  return release;
}

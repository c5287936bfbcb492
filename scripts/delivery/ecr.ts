/**
 * Image promotion in ECR: add the tag `release-<semver>` to the manifest already tagged
 * `sha-<commit>`, without rebuilding, and prove the digest did not change.
 *
 * ECR has no "add tag" call: the documented way is to read the manifest (BatchGetImage) and put
 * the same bytes back under the new tag (PutImage). The digest is the SHA-256 of those bytes, so
 * the manifest text must be passed through untouched and with its media type.
 * https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-retag.html
 */
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { DeliveryError } from "./errors";

/** Media types accepted when reading a manifest: multi-arch indexes first, as buildx pushes them. */
export const ACCEPTED_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;

/** An error returned by an AWS API call (`An error occurred (<code>) when calling ...`). */
export class AwsError extends Error {
  constructor(
    public readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AwsError";
  }
}

/** The subset of the ECR API promotion needs; responses are the API's JSON as the AWS CLI prints it. */
export interface EcrApi {
  batchGetImage(repositoryName: string, imageTag: string): Promise<unknown>;
  putImage(request: {
    repositoryName: string;
    imageTag: string;
    imageManifest: string;
    imageManifestMediaType: string;
  }): Promise<unknown>;
}

/** An image as ECR returned it. */
export interface EcrImage {
  readonly digest: string;
  readonly manifest: string;
  readonly mediaType: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** SHA-256 digest of a manifest, as registries compute it. */
export function manifestDigest(manifest: string): string {
  return `sha256:${createHash("sha256").update(manifest, "utf8").digest("hex")}`;
}

/** Reads a BatchGetImage response: the image, or `undefined` when ECR reports ImageNotFound. */
export function readBatchGetImage(response: unknown, imageTag: string): EcrImage | undefined {
  if (!isRecord(response) || !Array.isArray(response.images)) {
    throw new DeliveryError(
      `BatchGetImage for ${imageTag}: unexpected response (no "images" array).`,
    );
  }
  const failures = Array.isArray(response.failures) ? response.failures : [];
  const other = failures.filter((f) => !(isRecord(f) && f.failureCode === "ImageNotFound"));
  if (other.length > 0) {
    const first = other[0] as Record<string, unknown>;
    throw new DeliveryError(
      `BatchGetImage for ${imageTag} failed: ${String(first.failureCode)}: ${String(first.failureReason)}.`,
    );
  }
  if (response.images.length === 0) return undefined;
  if (response.images.length > 1) {
    throw new DeliveryError(
      `BatchGetImage for ${imageTag} returned ${response.images.length} images; expected one.`,
    );
  }
  const image = response.images[0] as unknown;
  if (
    !isRecord(image) ||
    !isRecord(image.imageId) ||
    typeof image.imageId.imageDigest !== "string" ||
    typeof image.imageManifest !== "string"
  ) {
    throw new DeliveryError(`BatchGetImage for ${imageTag}: the image has no digest or manifest.`);
  }
  const mediaType =
    typeof image.imageManifestMediaType === "string"
      ? image.imageManifestMediaType
      : (() => {
          const parsed: unknown = JSON.parse(image.imageManifest as string);
          return isRecord(parsed) && typeof parsed.mediaType === "string" ? parsed.mediaType : "";
        })();
  if (!mediaType) {
    throw new DeliveryError(`BatchGetImage for ${imageTag}: the manifest media type is unknown.`);
  }
  return { digest: image.imageId.imageDigest, manifest: image.imageManifest, mediaType };
}

/** Looks up the image behind a tag; `undefined` when the tag does not exist. */
export async function findImage(
  ecr: EcrApi,
  repositoryName: string,
  imageTag: string,
): Promise<EcrImage | undefined> {
  try {
    return readBatchGetImage(await ecr.batchGetImage(repositoryName, imageTag), imageTag);
  } catch (error) {
    if (error instanceof AwsError && error.code === "RepositoryNotFoundException") {
      throw new DeliveryError(
        `ECR repository "${repositoryName}" does not exist: check the ECR_REPOSITORY_URL repository variable against the shared stack's output.`,
      );
    }
    throw error;
  }
}

/** The result of {@link promoteImage}. */
export interface Promotion {
  readonly digest: string;
  /** False when the target tag already pointed at the same image (a re-run). */
  readonly tagged: boolean;
}

/**
 * Adds `targetTag` to the image tagged `sourceTag` and verifies the digest is unchanged.
 * Idempotent: when `targetTag` already names the same image it does nothing.
 */
export async function promoteImage(
  ecr: EcrApi,
  request: { repositoryName: string; sourceTag: string; targetTag: string },
): Promise<Promotion> {
  const { repositoryName, sourceTag, targetTag } = request;
  const source = await findImage(ecr, repositoryName, sourceTag);
  if (!source) {
    throw new DeliveryError(
      `no image ${repositoryName}:${sourceTag}: deploy-dev builds it when the commit lands on main. Tag a commit that deploy-dev built, or re-run its deploy-dev workflow.`,
    );
  }
  const computed = manifestDigest(source.manifest);
  if (computed !== source.digest) {
    throw new DeliveryError(
      `the manifest of ${sourceTag} hashes to ${computed}, not its digest ${source.digest}: refusing to re-put it, the digest would change.`,
    );
  }
  const existing = await findImage(ecr, repositoryName, targetTag);
  if (existing) {
    if (existing.digest === source.digest) return { digest: source.digest, tagged: false };
    throw new DeliveryError(
      `${repositoryName}:${targetTag} already exists with digest ${existing.digest}, not ${source.digest} (${sourceTag}); tags are immutable: cut a new release version.`,
    );
  }
  let putDigest: string | undefined;
  try {
    const response = await ecr.putImage({
      repositoryName,
      imageTag: targetTag,
      imageManifest: source.manifest,
      imageManifestMediaType: source.mediaType,
    });
    if (
      !isRecord(response) ||
      !isRecord(response.image) ||
      !isRecord(response.image.imageId) ||
      typeof response.image.imageId.imageDigest !== "string"
    ) {
      throw new DeliveryError(
        `PutImage for ${targetTag}: unexpected response (no image.imageId.imageDigest).`,
      );
    }
    putDigest = response.image.imageId.imageDigest;
  } catch (error) {
    // Another run tagged the same image between the check and the put: verified below.
    if (!(error instanceof AwsError && error.code === "ImageAlreadyExistsException")) throw error;
  }
  if (putDigest !== undefined && putDigest !== source.digest) {
    throw new DeliveryError(
      `PutImage tagged ${targetTag} with digest ${putDigest}, not ${source.digest}: the promoted image is not the one that was built.`,
    );
  }
  const after = await findImage(ecr, repositoryName, targetTag);
  if (!after || after.digest !== source.digest) {
    throw new DeliveryError(
      `after promotion ${repositoryName}:${targetTag} has digest ${after?.digest ?? "(none)"}, expected ${source.digest}.`,
    );
  }
  return { digest: source.digest, tagged: putDigest !== undefined };
}

/**
 * Splits an ECR repository URL (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`) into its
 * registry host and repository name.
 */
export function parseRepositoryUrl(url: string): {
  registry: string;
  repositoryName: string;
  region: string;
} {
  const match =
    /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9][a-z0-9._/-]*)$/.exec(
      url.trim(),
    );
  if (!match) {
    throw new DeliveryError(
      `ECR_REPOSITORY_URL ${JSON.stringify(url)} is not an ECR repository URL: expected <12-digit account>.dkr.ecr.<region>.amazonaws.com/<name> (the shared stack's ecr_repository_url output).`,
    );
  }
  const slash = url.trim().indexOf("/");
  return { registry: url.trim().slice(0, slash), region: match[2]!, repositoryName: match[3]! };
}

/** Parses the AWS CLI's error line into an {@link AwsError}. */
export function parseAwsCliError(stderr: string): AwsError | undefined {
  const match = /An error occurred \(([A-Za-z0-9]+)\) when calling the \w+ operation:\s*(.*)/.exec(
    stderr,
  );
  return match ? new AwsError(match[1]!, match[2]!.trim()) : undefined;
}

/** Runs `aws ecr ...` (AWS CLI v1 or v2) with the credentials of the environment. */
export class AwsCliEcr implements EcrApi {
  constructor(private readonly command = "aws") {}

  private run(args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      execFile(
        this.command,
        ["ecr", ...args, "--output", "json"],
        { maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error) {
            const aws = parseAwsCliError(stderr);
            if (aws) return reject(aws);
            return reject(
              new DeliveryError(`aws ecr ${args[0]} failed: ${stderr.trim() || error.message}`),
            );
          }
          try {
            resolve(JSON.parse(stdout) as unknown);
          } catch {
            reject(new DeliveryError(`aws ecr ${args[0]} printed something that is not JSON.`));
          }
        },
      );
    });
  }

  batchGetImage(repositoryName: string, imageTag: string): Promise<unknown> {
    return this.run([
      "batch-get-image",
      "--repository-name",
      repositoryName,
      "--image-ids",
      `imageTag=${imageTag}`,
      "--accepted-media-types",
      ...ACCEPTED_MEDIA_TYPES,
    ]);
  }

  putImage(request: {
    repositoryName: string;
    imageTag: string;
    imageManifest: string;
    imageManifestMediaType: string;
  }): Promise<unknown> {
    return this.run([
      "put-image",
      "--repository-name",
      request.repositoryName,
      "--image-tag",
      request.imageTag,
      "--image-manifest",
      request.imageManifest,
      "--image-manifest-media-type",
      request.imageManifestMediaType,
    ]);
  }
}

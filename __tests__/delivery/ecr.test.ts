import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  AwsError,
  findImage,
  manifestDigest,
  parseAwsCliError,
  parseRepositoryUrl,
  promoteImage,
  type EcrApi,
} from "../../scripts/delivery/ecr";
import { DeliveryError } from "../../scripts/delivery/errors";

/**
 * A recorded exchange: the AWS CLI's JSON output (stdout) or its error line (stderr), as printed
 * by `aws ecr <operation> --output json`.
 */
interface Exchange {
  operation: "batch-get-image" | "put-image";
  imageTag: string;
  exitCode: number;
  stdout?: unknown;
  stderr?: string;
}
interface Recording {
  repositoryName: string;
  sourceTag: string;
  targetTag: string;
  exchanges: Exchange[];
}

const dir = join(__dirname, "fixtures", "ecr");
const load = (name: string): Recording =>
  JSON.parse(readFileSync(join(dir, `${name}.json`), "utf8")) as Recording;

/** Replays a recording in order and fails on any call it did not record. */
class ReplayEcr implements EcrApi {
  public readonly puts: Array<{
    imageTag: string;
    imageManifest: string;
    imageManifestMediaType: string;
  }> = [];
  private next = 0;
  constructor(private readonly recording: Recording) {}

  private answer(
    operation: Exchange["operation"],
    repositoryName: string,
    imageTag: string,
  ): unknown {
    const exchange = this.recording.exchanges[this.next];
    if (!exchange || exchange.operation !== operation || exchange.imageTag !== imageTag) {
      throw new Error(
        `unrecorded call ${operation} ${imageTag} (expected ${JSON.stringify(exchange)})`,
      );
    }
    expect(repositoryName).toBe(this.recording.repositoryName);
    this.next += 1;
    if (exchange.exitCode !== 0) {
      const error = parseAwsCliError(exchange.stderr ?? "");
      if (!error) throw new Error("recorded failure without an AWS error line");
      throw error;
    }
    return structuredClone(exchange.stdout);
  }

  get done(): boolean {
    return this.next === this.recording.exchanges.length;
  }

  batchGetImage(repositoryName: string, imageTag: string): Promise<unknown> {
    return Promise.resolve().then(() => this.answer("batch-get-image", repositoryName, imageTag));
  }

  putImage(request: {
    repositoryName: string;
    imageTag: string;
    imageManifest: string;
    imageManifestMediaType: string;
  }) {
    this.puts.push(request);
    return Promise.resolve().then(() =>
      this.answer("put-image", request.repositoryName, request.imageTag),
    );
  }
}

const promote = async (name: string) => {
  const recording = load(name);
  const ecr = new ReplayEcr(recording);
  const result = promoteImage(ecr, recording);
  return { ecr, result, recording };
};
const SOURCE_DIGEST = "sha256:028b4ae1bdb8f58852cb3920ac2ed405f44e93bce1218a765ece1d149f08e5a2";

describe("recordings", () => {
  it("every recorded manifest hashes to its digest, except the deliberately corrupted one", () => {
    for (const file of readdirSync(dir)) {
      const recording = load(file.replace(/\.json$/, ""));
      for (const exchange of recording.exchanges) {
        const images = ((exchange.stdout as { images?: unknown[] } | undefined)?.images ??
          []) as Array<{
          imageId: { imageDigest: string };
          imageManifest: string;
        }>;
        for (const image of images) {
          const ok = manifestDigest(image.imageManifest) === image.imageId.imageDigest;
          expect(ok, `${file}`).toBe(file !== "manifest-digest-mismatch.json");
        }
      }
    }
  });
});

describe("promotion", () => {
  it("puts the same manifest bytes and media type under the release tag and verifies the digest", async () => {
    const { ecr, result } = await promote("promote-success");
    await expect(result).resolves.toEqual({ digest: SOURCE_DIGEST, tagged: true });
    expect(ecr.done).toBe(true);
    expect(ecr.puts).toHaveLength(1);
    expect(manifestDigest(ecr.puts[0]!.imageManifest)).toBe(SOURCE_DIGEST);
    expect(ecr.puts[0]!.imageManifestMediaType).toBe("application/vnd.oci.image.index.v1+json");
  });
  it("is a no-op when the release tag already names the same image (a re-run)", async () => {
    const { ecr, result } = await promote("promote-already-done");
    await expect(result).resolves.toEqual({ digest: SOURCE_DIGEST, tagged: false });
    expect(ecr.puts).toHaveLength(0);
  });
  it("accepts losing a race to a parallel run that tagged the same image", async () => {
    const { ecr, result } = await promote("put-race-already-exists");
    await expect(result).resolves.toEqual({ digest: SOURCE_DIGEST, tagged: false });
    expect(ecr.done).toBe(true);
  });
  it("fails when no image was built for the commit", async () => {
    const { result } = await promote("source-missing");
    await expect(result).rejects.toThrow(
      /no image api:sha-3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39: deploy-dev builds it when the commit lands on main/,
    );
  });
  it("fails when the release tag already names another image", async () => {
    const { ecr, result } = await promote("release-tag-on-other-image");
    await expect(result).rejects.toThrow(
      /already exists with digest sha256:[0-9a-f]{64}, not sha256:028b4ae1/,
    );
    expect(ecr.puts).toHaveLength(0);
  });
  it("fails when the repository does not exist, pointing at the variable", async () => {
    const { result } = await promote("repository-missing");
    await expect(result).rejects.toThrow(
      /ECR repository "api" does not exist: check the ECR_REPOSITORY_URL/,
    );
  });
  it("refuses a manifest whose bytes do not hash to its digest", async () => {
    const { ecr, result } = await promote("manifest-digest-mismatch");
    await expect(result).rejects.toThrow(/hashes to sha256:[0-9a-f]{64}, not its digest/);
    expect(ecr.puts).toHaveLength(0);
  });
  it("fails when ECR answers the put with another digest", async () => {
    const { result } = await promote("put-returns-other-digest");
    await expect(result).rejects.toThrow(/the promoted image is not the one that was built/);
  });
});

describe("looking up an image", () => {
  it("finds the digest of an existing tag and nothing for a missing one", async () => {
    const found = await findImage(
      new ReplayEcr(load("promote-already-done")),
      "api",
      "sha-3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    );
    expect(found?.digest).toBe(SOURCE_DIGEST);
    const missing = await findImage(
      new ReplayEcr(load("source-missing")),
      "api",
      "sha-3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    );
    expect(missing).toBeUndefined();
  });
});

describe("inputs", () => {
  it("splits the repository URL", () => {
    expect(parseRepositoryUrl("123456789012.dkr.ecr.eu-west-1.amazonaws.com/platform/api")).toEqual(
      {
        registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        region: "eu-west-1",
        repositoryName: "platform/api",
      },
    );
  });
  it.each([
    "",
    "api",
    "docker.io/library/api",
    "123.dkr.ecr.eu-west-1.amazonaws.com/api",
    "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/api",
  ])("refuses %j as a repository URL", (url) => {
    expect(() => parseRepositoryUrl(url)).toThrow(DeliveryError);
  });
  it("reads the AWS CLI's error line", () => {
    const error = parseAwsCliError(
      "\nAn error occurred (ImageTagAlreadyExistsException) when calling the PutImage operation: tag exists\n",
    );
    expect(error).toBeInstanceOf(AwsError);
    expect(error?.code).toBe("ImageTagAlreadyExistsException");
    expect(parseAwsCliError("Unable to locate credentials")).toBeUndefined();
  });
});

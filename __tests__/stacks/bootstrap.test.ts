/** The bootstrap stack: the state bucket and its key, with local state. */
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { describe, expect, it } from "vitest";
import { configFrom, settingsCopy, synthStack } from "../helpers/synth";
import { settings } from "../../config/settings";
import { only, ref, resourceCount, synthesized } from "./stack-helpers";

const json = synthesized("bootstrap");
const bucket = only(json, "aws_s3_bucket");
const key = only(json, "aws_kms_key");

describe("bootstrap stack", () => {
  it("keeps its own state locally and has exactly the state bucket's resources", () => {
    expect(json.terraform.backend).toEqual({ local: { path: "terraform.tfstate" } });
    expect(resourceCount(json)).toBe(9);
    expect(json).toHaveProviderWithProperties(AwsProvider, { region: settings.shared.region });
  });

  it("names the bucket from config and never force-destroys it", () => {
    expect(json).toHaveResourceWithProperties(S3Bucket, {
      bucket: settings.shared.stateBucket,
      force_destroy: false,
    });
  });

  it("encrypts with its own rotating key, aliased after the bucket, with a bucket key", () => {
    expect(json).toHaveResourceWithProperties(KmsKey, {
      enable_key_rotation: true,
      deletion_window_in_days: 30,
    });
    expect(json).toHaveResourceWithProperties(KmsAlias, {
      name: `alias/${settings.shared.stateBucket}`,
      target_key_id: ref(key, "key_id"),
    });
    expect(json).toHaveResourceWithProperties(S3BucketServerSideEncryptionConfigurationA, {
      bucket: ref(bucket, "id"),
      rule: [
        {
          apply_server_side_encryption_by_default: {
            sse_algorithm: "aws:kms",
            kms_master_key_id: ref(key, "arn"),
          },
          bucket_key_enabled: true,
        },
      ],
    });
  });

  it("expires old state versions after the configured days and aborts stale uploads", () => {
    expect(json).toHaveResourceWithProperties(S3BucketLifecycleConfiguration, {
      bucket: ref(bucket, "id"),
    });
    expect(only(json, "aws_s3_bucket_lifecycle_configuration").rule).toEqual([
      expect.objectContaining({
        status: "Enabled",
        filter: [{ prefix: "" }],
        noncurrent_version_expiration: [
          { noncurrent_days: settings.shared.stateVersionRetentionDays },
        ],
        abort_incomplete_multipart_upload: [{ days_after_initiation: 7 }],
      }),
    ]);
  });

  it("outputs the bucket name and the key ARN", () => {
    expect(json.output).toEqual({
      state_bucket_name: expect.objectContaining({ value: ref(bucket, "bucket") }),
      state_bucket_kms_key_arn: expect.objectContaining({ value: ref(key, "arn") }),
    });
  });
});

describe("bootstrap stack with its state moved into the bucket", () => {
  it("uses the S3 backend under its own key, encrypted and locked", () => {
    const changed = settingsCopy() as unknown as { shared: { bootstrapStateInBucket: boolean } };
    changed.shared.bootstrapStateInBucket = true;
    const moved = synthStack("bootstrap", configFrom(changed as never));
    expect(Object.keys(moved.terraform.backend ?? {})).toEqual(["s3"]);
    expect(moved.terraform.backend).toMatchObject({
      s3: {
        bucket: settings.shared.stateBucket,
        key: "bootstrap/terraform.tfstate",
        region: settings.shared.region,
        encrypt: true,
        use_lockfile: true,
      },
    });
    expect(resourceCount(moved)).toBe(9);
  });
});

import { LocalBackend, TerraformOutput } from "cdktf";
import type { Construct } from "constructs";
import { StateBucket } from "../constructs/state-bucket";
import { PlatformStack, type PlatformStackProps } from "./base";

/**
 * `bootstrap`: the state bucket every other workspace keeps its state in. Applied once by a person with
 * local state; with `shared.bootstrapStateInBucket` its state then moves into the bucket it created
 * (`terraform init -migrate-state`, docs/configuration.md).
 */
export class BootstrapStack extends PlatformStack {
  constructor(scope: Construct, id: string, props: PlatformStackProps) {
    const inBucket = props.shared.bootstrapStateInBucket === true;
    super(scope, id, { ...props, remoteState: inBucket });
    if (!inBucket) new LocalBackend(this, { path: "terraform.tfstate" });

    const state = new StateBucket(this, "State", {
      bucketName: props.shared.stateBucket,
      noncurrentVersionDays: props.shared.stateVersionRetentionDays,
    });
    new TerraformOutput(this, "state_bucket_name", { value: state.bucketName });
    new TerraformOutput(this, "state_bucket_kms_key_arn", { value: state.kmsKeyArn });
  }
}

/**
 * The synth benchmark's floor: a one-resource cdktf app, synthesized the same way as the real one
 * (`npx cdktf synth`), so the ratio measures what our stacks add, not the CLI's own start-up.
 */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { App, TerraformStack } from "cdktf";

const app = new App();
const stack = new TerraformStack(app, "floor");
new AwsProvider(stack, "aws", { region: "eu-west-1" });
new S3Bucket(stack, "Bucket", { bucket: "floor-benchmark" });
app.synth();

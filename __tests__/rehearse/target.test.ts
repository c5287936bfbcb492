import { describe, expect, it } from "vitest";
import { ConfigError } from "../../config";
import {
  emulatorProcessEnv,
  emulatorTargetVars,
  resolveEmulatorConfig,
} from "../../scripts/rehearse/target";

describe("the emulator target", () => {
  it("is selected through the configuration's variables", () => {
    expect(emulatorTargetVars("http://127.0.0.1:45123")).toEqual({
      DEPLOY_TARGET: "emulator",
      EMULATOR_ENDPOINT_URL: "http://127.0.0.1:45123",
    });
  });

  it("resolves to a custom endpoint with test credentials", () => {
    const config = resolveEmulatorConfig({ PATH: "/usr/bin" }, "http://127.0.0.1:45123");
    expect(config.target).toEqual({
      kind: "endpoint",
      endpointUrl: "http://127.0.0.1:45123",
      accessKeyId: "test",
      secretAccessKey: "test",
    });
  });

  it("never passes the caller's AWS credentials, profile or target on to cdktf and terraform", () => {
    const env = emulatorProcessEnv(
      {
        PATH: "/usr/bin",
        AWS_PROFILE: "prod-admin",
        AWS_ACCESS_KEY_ID: "AKIAREAL",
        AWS_SECRET_ACCESS_KEY: "real",
        AWS_ENDPOINT_URL: "https://example.com",
        DEPLOY_TARGET: "aws",
      },
      "http://127.0.0.1:45123",
    );
    expect(Object.keys(env).filter((k) => k.startsWith("AWS_"))).toEqual([
      "AWS_EC2_METADATA_DISABLED",
    ]);
    expect(env).toMatchObject({
      PATH: "/usr/bin",
      DEPLOY_TARGET: "emulator",
      EMULATOR_ENDPOINT_URL: "http://127.0.0.1:45123",
    });
  });

  it("refuses an endpoint that is not on this machine", () => {
    expect(() => resolveEmulatorConfig({}, "http://10.0.0.5:4566")).toThrow(ConfigError);
  });
});

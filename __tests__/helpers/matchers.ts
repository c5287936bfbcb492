/**
 * cdktf's Testing matchers (`toHaveResource`, `toHaveResourceWithProperties`, …), adapted to vitest with
 * types. They take a synthesized stack (parsed or as a string) and a provider class (`Vpc`), so tests
 * select by type and properties, never by generated names. Registered for every test file.
 */
import {
  getToHaveDataSourceWithProperties,
  getToHaveProviderWithProperties,
  getToHaveResourceWithProperties,
} from "cdktf/lib/testing/matchers";
import { expect } from "vitest";

/** A provider binding class (`Vpc`, `Release`): anything with a static `tfResourceType`. */
export interface TerraformConstructor {
  readonly tfResourceType: string;
}

type Matcher = ReturnType<typeof getToHaveResourceWithProperties>;

function adapt(matcher: Matcher) {
  return (
    received: unknown,
    type: TerraformConstructor,
    properties: Record<string, unknown> = {},
  ) => {
    const text = typeof received === "string" ? received : JSON.stringify(received);
    const report = matcher(text, type, properties);
    return { pass: report.pass, message: () => report.message };
  };
}

expect.extend({
  toHaveResource: (received: unknown, type: TerraformConstructor) =>
    adapt(getToHaveResourceWithProperties())(received, type),
  toHaveResourceWithProperties: adapt(getToHaveResourceWithProperties()),
  toHaveDataSource: (received: unknown, type: TerraformConstructor) =>
    adapt(getToHaveDataSourceWithProperties())(received, type),
  toHaveDataSourceWithProperties: adapt(getToHaveDataSourceWithProperties()),
  toHaveProvider: (received: unknown, type: TerraformConstructor) =>
    adapt(getToHaveProviderWithProperties())(received, type),
  toHaveProviderWithProperties: adapt(getToHaveProviderWithProperties()),
});

interface CdktfMatchers<R = unknown> {
  toHaveResource(type: TerraformConstructor): R;
  toHaveResourceWithProperties(type: TerraformConstructor, properties: Record<string, unknown>): R;
  toHaveDataSource(type: TerraformConstructor): R;
  toHaveDataSourceWithProperties(
    type: TerraformConstructor,
    properties: Record<string, unknown>,
  ): R;
  toHaveProvider(type: TerraformConstructor): R;
  toHaveProviderWithProperties(type: TerraformConstructor, properties: Record<string, unknown>): R;
}

declare module "vitest" {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any, @typescript-eslint/no-empty-object-type
  interface Assertion<T = any> extends CdktfMatchers<T> {}
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AsymmetricMatchersContaining extends CdktfMatchers {}
}

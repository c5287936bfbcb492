/**
 * Synthesis helpers for tests: the run's shared synth of the committed configuration, and fresh synths
 * of altered configurations.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { loadConfig, type PlatformConfig, type PlatformSettings } from "../../config";
import { settings as committedSettings } from "../../config/settings";
import { buildApp, STACK_NAMES, type StackName } from "../../stacks/app";

/** A synthesized stack, as terraform reads it. */
export interface StackJson {
  terraform: {
    backend?: Record<string, Record<string, unknown>>;
    required_providers?: Record<string, { source?: string; version?: string }>;
  };
  provider?: Record<string, Array<Record<string, unknown>>>;
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  output?: Record<string, { value: unknown }>;
}

/** A resource or data source with its Terraform address (`aws_vpc.Network_Vpc_1234`). */
export type Block = Record<string, unknown> & { address: string };

const cache = new Map<StackName, StackJson>();

/** The folder the run's shared synth wrote `stack` to. */
export function stackDir(stack: StackName): string {
  return join(inject("synthDir"), "stacks", stack);
}

/** The run's shared synth of the committed configuration (parsed once per test file). */
export function synthesized(stack: StackName): StackJson {
  let json = cache.get(stack);
  if (!json) {
    json = JSON.parse(readFileSync(join(stackDir(stack), "cdk.tf.json"), "utf8")) as StackJson;
    cache.set(stack, json);
  }
  return json;
}

/** Every resource of a type, with its address. */
export function resources(json: StackJson, type: string): Block[] {
  return Object.entries(json.resource?.[type] ?? {}).map(([name, body]) => ({
    ...body,
    address: `${type}.${name}`,
  }));
}

/** Every data source of a type, with its address. */
export function dataSources(json: StackJson, type: string): Block[] {
  return Object.entries(json.data?.[type] ?? {}).map(([name, body]) => ({
    ...body,
    address: `data.${type}.${name}`,
  }));
}

/** The single resource of a type matching `where`; fails when there are none or several. */
export function only(
  json: StackJson,
  type: string,
  where: (b: Block) => boolean = () => true,
): Block {
  const found = resources(json, type).filter(where);
  if (found.length !== 1) {
    throw new Error(`expected exactly one ${type} matching, found ${found.length}`);
  }
  return found[0];
}

/** A deep copy of the committed settings, to alter in a test. */
export function settingsCopy(): PlatformSettings {
  return structuredClone(committedSettings) as PlatformSettings;
}

/** Loads a configuration from settings and an environment, as `npm run synth` would. */
export function configFrom(
  settings: PlatformSettings = committedSettings,
  env: Record<string, string | undefined> = {},
): PlatformConfig {
  return loadConfig(env, settings);
}

/** Synthesizes every stack of a configuration into a fresh folder and returns them parsed. */
export function synthStacks(config: PlatformConfig): Record<StackName, StackJson> {
  const dir = mkdtempSync(join(tmpdir(), "platform-synth-case-"));
  try {
    buildApp(config, dir).synth();
    return Object.fromEntries(
      STACK_NAMES.map((s) => [
        s,
        JSON.parse(readFileSync(join(dir, "stacks", s, "cdk.tf.json"), "utf8")) as StackJson,
      ]),
    ) as Record<StackName, StackJson>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Synthesizes one stack of a configuration. */
export function synthStack(stack: StackName, config: PlatformConfig = configFrom()): StackJson {
  return synthStacks(config)[stack];
}

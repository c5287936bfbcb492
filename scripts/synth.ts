/**
 * `npm run synth`: validates the configuration, synthesizes every stack to cdktf.out/ and prints each
 * stack with its resource count and folder. A configuration error prints every problem, exits 1 and
 * leaves cdktf.out/ as it was.
 */
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ConfigError, loadConfig } from "../config";
import { buildApp, STACK_NAMES } from "../stacks/app";

/** Counts resources (not data sources) in a synthesized stack. */
export function resourceCount(stackJson: {
  resource?: Record<string, Record<string, unknown>>;
}): number {
  return Object.values(stackJson.resource ?? {}).reduce(
    (n, byName) => n + Object.keys(byName).length,
    0,
  );
}

function main(): void {
  const outdir = process.argv[2] ?? "cdktf.out";
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const started = Date.now();
  buildApp(config, outdir).synth();
  for (const stack of STACK_NAMES) {
    const file = join(outdir, "stacks", stack, "cdk.tf.json");
    const json = JSON.parse(readFileSync(file, "utf8")) as Parameters<typeof resourceCount>[0];
    console.log(
      `${stack.padEnd(10)} ${String(resourceCount(json)).padStart(4)} resources  ${relative(process.cwd(), file)}`,
    );
  }
  console.log(`synthesized ${STACK_NAMES.length} stacks in ${Date.now() - started} ms`);
}

if (require.main === module) main();

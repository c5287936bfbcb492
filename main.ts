/**
 * Composition root, run by `cdktf synth|plan|deploy` (cdktf.json: `npx tsx main.ts`): read and validate
 * the configuration, create the stacks, synthesize. A configuration error prints every problem and
 * exits 1 before anything is written.
 */
import { ConfigError, loadConfig } from "./config";
import { buildApp } from "./stacks/app";

try {
  buildApp(loadConfig()).synth();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

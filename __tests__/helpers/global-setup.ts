/**
 * Runs once per `vitest run`: synthesizes every stack of the committed configuration into a temporary
 * folder that all test files read (see `synthesized()`), so no test file synthesizes the same stacks
 * again. The folder is removed at the end.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { loadConfig } from "../../config";
import { buildApp } from "../../stacks/app";

declare module "vitest" {
  export interface ProvidedContext {
    synthDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), "platform-synth-"));
  // The committed defaults: tests must not depend on the caller's IMAGE_TAG_* or GIT_SHA.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !k.startsWith("IMAGE_TAG_") && k !== "GIT_SHA" && k !== "DEPLOY_TARGET",
    ),
  );
  buildApp(loadConfig(env), dir).synth();
  project.provide("synthDir", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}

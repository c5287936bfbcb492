/**
 * Blue/green steps as environment variables for `cdktf deploy` (docs/blue-green.md). The stack's
 * outputs (`active_colour`, `colour_image_tags`) say which colour serves and what each colour runs;
 * each step turns them into the inputs of the next apply:
 *
 * - `deploy`: the new tag into the idle colour, the active colour and its tag unchanged;
 * - `switch`: the idle colour becomes active, both tags unchanged (after its `helm test` passed);
 * - `rollback`: the same flip back to the previous colour, no rebuild and no re-install;
 * - `current`: what runs now, so a plan or a drift check compares the state with itself.
 */
import { otherColour } from "../../config/names";
import { OCI_TAG } from "../../config/rules";
import { CONFIG_ENV_VARS } from "../../config/load";
import {
  COLOURS,
  ENVIRONMENTS,
  type Colour,
  type EnvironmentName,
  type PlatformConfig,
} from "../../config/types";
import { DeliveryError, UsageError } from "./errors";

/** What a blue/green environment runs now, read from its stack outputs. */
export interface ColourState {
  readonly active: Colour;
  readonly tags: Partial<Record<Colour, string>>;
}

/** A blue/green step. */
export type ColourStep =
  | { readonly action: "deploy"; readonly tag: string }
  | { readonly action: "current" }
  | { readonly action: "switch" | "rollback"; readonly to?: Colour };

/** The committed configuration's colours of a blue/green environment, or undefined when it is rolling. */
export function committedColours(
  config: PlatformConfig,
  env: EnvironmentName,
): ColourState | undefined {
  const api = config.environments[env].api;
  if (api.strategy !== "blue-green" || api.blueGreen === undefined) return undefined;
  return { active: api.blueGreen.activeColour, tags: { ...api.blueGreen.tags } };
}

/** Parses an environment name, a usage error otherwise. */
export function environmentName(value: string): EnvironmentName {
  if (!(ENVIRONMENTS as readonly string[]).includes(value)) {
    throw new UsageError(`--env must be one of ${ENVIRONMENTS.join(", ")}, got "${value}".`);
  }
  return value as EnvironmentName;
}

/**
 * Reads `active_colour` and `colour_image_tags` of a stack from a cdktf outputs file
 * (`cdktf output <stack> --outputs-file <file>`); fails with a readable message when the stack is
 * not blue/green or the outputs are malformed.
 * @param firstDeploy what to start from when the state has no colours yet (the stack was rolling or
 * never applied, so no colour release exists): the committed configuration's colours
 */
export function colourState(
  outputs: unknown,
  stack: EnvironmentName,
  firstDeploy?: ColourState,
): ColourState {
  const values = (outputs as Record<string, Record<string, unknown> | undefined> | null)?.[stack];
  const active = values?.active_colour;
  if (active === undefined && firstDeploy !== undefined) return firstDeploy;
  if (!(COLOURS as readonly unknown[]).includes(active)) {
    throw new DeliveryError(
      `the ${stack} stack has no active_colour output (got ${JSON.stringify(active)}): is ` +
        `environments.${stack}.api.strategy "blue-green", and has it been deployed once?`,
    );
  }
  const raw = values?.colour_image_tags;
  const tags: Partial<Record<Colour, string>> = {};
  for (const colour of COLOURS) {
    const tag = (raw as Record<string, unknown> | undefined)?.[colour];
    if (tag === undefined || tag === null) continue;
    if (typeof tag !== "string" || !OCI_TAG.test(tag)) {
      throw new DeliveryError(
        `${stack}.colour_image_tags.${colour} is ${JSON.stringify(tag)}, not an image tag.`,
      );
    }
    tags[colour] = tag;
  }
  return { active: active as Colour, tags };
}

/**
 * The environment variables of the next apply, in order: the active colour and each colour's tag.
 * A step that would serve from a colour without a release, or "switch" to the colour that already
 * serves, fails with the reason.
 */
export function colourStep(
  env: EnvironmentName,
  state: ColourState,
  step: ColourStep,
): Array<[string, string]> {
  const idle = otherColour(state.active);
  let active = state.active;
  const tags = { ...state.tags };
  if (step.action === "deploy") {
    if (!OCI_TAG.test(step.tag)) {
      throw new UsageError(`--tag must be an image tag such as release-1.2.3, got "${step.tag}".`);
    }
    tags[idle] = step.tag;
  } else if (step.action !== "current") {
    const to = step.to ?? idle;
    if (to === state.active) {
      throw new DeliveryError(
        `${env}: ${to} already serves; a ${step.action} moves traffic to the other colour (${idle}).`,
      );
    }
    if (tags[to] === undefined) {
      throw new DeliveryError(
        `${env}: ${to} has no release to ${step.action} to; deploy a tag into it first.`,
      );
    }
    active = to;
  }
  const assignments: Array<[string, string]> = [[CONFIG_ENV_VARS.activeColour(env), active]];
  for (const colour of COLOURS) {
    const tag = tags[colour];
    if (tag !== undefined) assignments.push([CONFIG_ENV_VARS.colourImageTag(env, colour), tag]);
  }
  return assignments;
}

/**
 * Tags: every AWS resource carries the default tags of its workspace, and the image tag chosen per
 * environment (committed or from IMAGE_TAG_<ENV>) reaches that environment's release only.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { settings } from "../../config/settings";
import { STACK_NAMES, type StackName } from "../../stacks/app";
import { configFrom, synthStacks, type StackJson } from "../helpers/synth";
import { one, only, synthesized } from "./stack-helpers";
import { colourRelease, type Colour } from "../../config";

const SHA = "89abcdef0123456789abcdef0123456789abcdef";
/** The values of the serving release: the one release, or with blue/green the active colour's. */
const valuesOf = (json: StackJson) =>
  JSON.parse(
    (
      only(json, "helm_release", (r) => {
        const active = json.output?.active_colour?.value;
        return active === undefined || r.name === colourRelease(String(active) as Colour);
      }).values as string[]
    )[0],
  ) as {
    image: { tag: string };
    app: { gitSha: string };
  };

describe("default tags", () => {
  it.each(STACK_NAMES)(
    "%s tags every AWS resource with project, workspace and repository",
    (stack) => {
      const aws = one(synthesized(stack).provider?.aws);
      expect(one(aws.default_tags)).toEqual({
        tags: {
          Project: settings.shared.project,
          Workspace: stack,
          ManagedBy: "cdktf",
          Repository: settings.shared.githubRepository,
        },
      });
    },
  );
});

describe("image tags in the synthesized releases", () => {
  let overridden: Record<StackName, StackJson>;
  beforeAll(() => {
    overridden = synthStacks(configFrom(settings, { IMAGE_TAG_DEV: `sha-${SHA}`, GIT_SHA: SHA }));
  });

  it("use the committed tag of each environment by default", () => {
    for (const env of ["dev", "prod"] as const) {
      expect(valuesOf(synthesized(env)).image.tag).toBe(settings.environments[env].api.imageTag);
      expect(synthesized(env).output?.image_tag.value).toBe(
        settings.environments[env].api.imageTag,
      );
    }
  });

  it("IMAGE_TAG_DEV reaches dev's release and output, and GIT_SHA its values", () => {
    expect(valuesOf(overridden.dev).image.tag).toBe(`sha-${SHA}`);
    expect(overridden.dev.output?.image_tag.value).toBe(`sha-${SHA}`);
    expect(valuesOf(overridden.dev).app.gitSha).toBe(SHA);
  });

  it("leaves prod's image tag and the shared and bootstrap stacks as they were", () => {
    expect(valuesOf(overridden.prod).image.tag).toBe(settings.environments.prod.api.imageTag);
    expect(overridden.shared).toEqual(synthesized("shared"));
    expect(overridden.bootstrap).toEqual(synthesized("bootstrap"));
  });
});

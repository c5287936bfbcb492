/**
 * Image tag resolution: committed defaults per environment, `IMAGE_TAG_DEV` / `IMAGE_TAG_PROD`
 * overrides that never leak into another environment, and rejection of mutable or malformed tags.
 */
import { describe, expect, it } from "vitest";
import { CONFIG_ENV_VARS, ConfigError, ENVIRONMENTS, loadConfig } from "../../config";
import { settings as committed } from "../../config/settings";
import type { ApiSettings } from "../../config/types";
import { settingsCopy } from "../helpers/synth";
import { otherColour } from "../../config/names";

const SHA = "0123456789abcdef0123456789abcdef01234567";
/** The tag an environment's override deploys: its image tag, or with blue/green the idle colour's. */
const deployed = (api: ApiSettings): string | undefined => {
  const bg = api.strategy === "blue-green" ? api.blueGreen : undefined;
  return bg ? bg.tags[otherColour(bg.activeColour)] : api.imageTag;
};
const tags = (env: Record<string, string>, settings = committed) => {
  const config = loadConfig(env, settings);
  return {
    dev: deployed(config.environments.dev.api),
    prod: deployed(config.environments.prod.api),
  };
};
const issuesFor = (env: Record<string, string>, settings = committed) => {
  try {
    loadConfig(env, settings);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
};

describe("image tags", () => {
  it("reads one variable per environment", () => {
    expect(ENVIRONMENTS.map(CONFIG_ENV_VARS.imageTag)).toEqual(["IMAGE_TAG_DEV", "IMAGE_TAG_PROD"]);
  });

  it("default to the committed tag of each environment", () => {
    expect(tags({})).toEqual({
      dev: committed.environments.dev.api.imageTag,
      prod: committed.environments.prod.api.imageTag,
    });
  });

  it("IMAGE_TAG_DEV changes dev only", () => {
    expect(tags({ IMAGE_TAG_DEV: `sha-${SHA}` })).toEqual({
      dev: `sha-${SHA}`,
      prod: committed.environments.prod.api.imageTag,
    });
  });

  it("IMAGE_TAG_PROD changes prod only", () => {
    expect(tags({ IMAGE_TAG_PROD: "release-1.2.3" })).toEqual({
      dev: committed.environments.dev.api.imageTag,
      prod: "release-1.2.3",
    });
  });

  it("both overrides apply independently, and the committed settings stay untouched", () => {
    const before = structuredClone(committed);
    expect(tags({ IMAGE_TAG_DEV: `sha-${SHA}`, IMAGE_TAG_PROD: "release-2.0.0" })).toEqual({
      dev: `sha-${SHA}`,
      prod: "release-2.0.0",
    });
    expect(committed).toEqual(before);
    expect(tags({})).toEqual(tags({ UNRELATED: "x" }));
  });

  it("accept the OCI grammar's edges: 128 characters, a leading underscore, dots and dashes", () => {
    const long = `a${"b".repeat(127)}`;
    expect(tags({ IMAGE_TAG_DEV: long }).dev).toBe(long);
    expect(tags({ IMAGE_TAG_DEV: "_x.y-z" }).dev).toBe("_x.y-z");
  });

  it.each([
    ["latest", "IMAGE_TAG_PROD", /mutable tag/],
    ["latest", "IMAGE_TAG_DEV", /mutable tag/],
    ["stable", "IMAGE_TAG_PROD", /mutable tag/],
    ["main", "IMAGE_TAG_DEV", /mutable tag/],
    [`a${"b".repeat(128)}`, "IMAGE_TAG_DEV", /OCI tag/],
    ["-leading-dash", "IMAGE_TAG_PROD", /OCI tag/],
    [".leading-dot", "IMAGE_TAG_PROD", /OCI tag/],
    ["sha:abc", "IMAGE_TAG_DEV", /OCI tag/],
    ["release/1.0.0", "IMAGE_TAG_PROD", /OCI tag/],
    ["", "IMAGE_TAG_DEV", /OCI tag/],
  ])("reject %j in %s", (tag, variable, allowed) => {
    const issues = issuesFor({ [variable]: tag });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ field: variable, value: tag });
    expect(issues[0].allowed).toMatch(allowed);
  });

  it("reject a tag the configuration marks mutable, in an override and in the committed tag", () => {
    const s = settingsCopy() as { shared: { mutableTags: string[] } } & typeof committed;
    s.shared.mutableTags = [...s.shared.mutableTags, "edge"];
    expect(issuesFor({ IMAGE_TAG_DEV: "edge" }, s).map((i) => i.field)).toEqual(["IMAGE_TAG_DEV"]);
    expect(issuesFor({ IMAGE_TAG_DEV: "edge" })).toEqual([]);
    (s.environments.prod.api as { imageTag: string }).imageTag = "edge";
    expect(issuesFor({}, s).map((i) => i.field)).toEqual(["environments.prod.api.imageTag"]);
  });

  it("latest is mutable even when the configuration forgets to list it", () => {
    const s = settingsCopy() as { shared: { mutableTags: string[] } } & typeof committed;
    s.shared.mutableTags = [];
    expect(issuesFor({ IMAGE_TAG_PROD: "latest" }, s).map((i) => i.field)).toEqual([
      "IMAGE_TAG_PROD",
    ]);
  });

  it("reject a variable for an environment that does not exist, naming the allowed ones", () => {
    const issues = issuesFor({ IMAGE_TAG_STAGING: `sha-${SHA}` });
    expect(issues).toHaveLength(1);
    expect(issues[0].field).toBe("IMAGE_TAG_STAGING");
    expect(issues[0].allowed).toContain("IMAGE_TAG_DEV, IMAGE_TAG_PROD");
  });

  it("a bad override for one environment does not hide a bad one for the other", () => {
    const fields = issuesFor({ IMAGE_TAG_DEV: "latest", IMAGE_TAG_PROD: "bad tag" }).map(
      (i) => i.field,
    );
    expect(fields).toEqual(["IMAGE_TAG_DEV", "IMAGE_TAG_PROD"]);
  });
});

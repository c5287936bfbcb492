import { describe, expect, it } from "vitest";
import {
  checkReleaseTag,
  compareSemver,
  devImageTag,
  latestReleaseTag,
  parseReleaseTag,
  parseSemver,
} from "../../scripts/delivery/image-tags";

const COMMIT = "3f1c2a9d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39";

describe("dev image tag", () => {
  it("is sha-<40-hex commit>", () => {
    expect(devImageTag(COMMIT)).toBe(`sha-${COMMIT}`);
  });
  it.each([
    ["short sha", COMMIT.slice(0, 7)],
    ["upper case", COMMIT.toUpperCase()],
    ["41 characters", `${COMMIT}0`],
    ["not hex", COMMIT.replace(/a/g, "g")],
    ["empty", ""],
    ["a branch name", "main"],
  ])("refuses %s", (_name, commit) => {
    expect(() => devImageTag(commit)).toThrow(/40 lower-case hex characters/);
  });
});

describe("release tags", () => {
  it.each([
    ["release-1.4.0", "1.4.0"],
    ["release-0.1.0", "0.1.0"],
    ["release-2.0.0-rc.1", "2.0.0-rc.1"],
  ])("accepts %s", (tag, version) => {
    expect(parseReleaseTag(tag).version.text).toBe(version);
  });
  it.each([
    ["no prefix", "1.4.0", /release-<semver>/],
    ["a v prefix", "release-v1.4.0", /drop the "v"/],
    ["two parts", "release-1.4", /not a semantic version/],
    ["leading zeros", "release-01.4.0", /leading zeros/],
    ["build metadata", "release-1.4.0+build.5", /build metadata/],
    ["a ref", "refs/tags/release-1.4.0", /is a ref/],
    ["upper-case prefix", "Release-1.4.0", /release-<semver>/],
    ["whitespace", "release-1.4.0 ", /not a semantic version/],
    ["an empty prerelease", "release-1.4.0-", /not a semantic version/],
    ["a prerelease with a leading zero", "release-1.4.0-rc.01", /not a semantic version/],
    ["too long for an image tag", `release-1.4.0-${"a".repeat(120)}`, /at most 128/],
    ["the mutable tag", "latest", /release-<semver>/],
    ["an empty tag", "", /release-<semver>/],
  ])("refuses %s (%s)", (_name, tag, message) => {
    expect(() => parseReleaseTag(tag)).toThrow(message);
  });
});

describe("release tag against the API's package version", () => {
  it("passes when equal", () => {
    expect(checkReleaseTag("release-1.4.0", "1.4.0").tag).toBe("release-1.4.0");
  });
  it("fails on a mismatch, naming both versions and the fix", () => {
    expect(() => checkReleaseTag("release-1.4.1", "1.4.0")).toThrow(
      /tag release-1.4.1 says version 1.4.1, but api\/package.json is at 1.4.0: bump the package version/,
    );
  });
  it("fails without a package version", () => {
    expect(() => checkReleaseTag("release-1.4.0", undefined)).toThrow(/no "version" string/);
  });
});

describe("newest release tag", () => {
  it("orders by semantic version, not by text", () => {
    expect(latestReleaseTag(["release-1.9.0", "release-1.10.0", "release-1.2.0"])).toBe(
      "release-1.10.0",
    );
  });
  it("ranks a release above its release candidates", () => {
    expect(latestReleaseTag(["release-2.0.0-rc.2", "release-2.0.0", "release-2.0.0-rc.10"])).toBe(
      "release-2.0.0",
    );
    expect(latestReleaseTag(["release-2.0.0-rc.2", "release-2.0.0-rc.10"])).toBe(
      "release-2.0.0-rc.10",
    );
  });
  it("ignores tags that are not releases and malformed release tags", () => {
    expect(latestReleaseTag(["v9.0.0", "release-v9.0.0", "release-9", "release-1.0.0"])).toBe(
      "release-1.0.0",
    );
  });
  it("is undefined when there is none", () => {
    expect(latestReleaseTag([])).toBeUndefined();
  });
  it("compares per semver precedence", () => {
    const order = [
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-alpha.beta",
      "1.0.0-beta",
      "1.0.0-beta.2",
      "1.0.0-beta.11",
      "1.0.0-rc.1",
      "1.0.0",
    ];
    for (let i = 1; i < order.length; i += 1) {
      expect(compareSemver(parseSemver(order[i - 1]!), parseSemver(order[i]!))).toBeLessThan(0);
    }
  });
});

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DCLinter } from "dclint";
import { validate } from "dockerfile-utils";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DOCKERFILE, readDockerfile, stageSteps, step, type Step } from "./dockerfile";
import { API_DIR, REPO_ROOT } from "./support";

const text = readFileSync(DOCKERFILE, "utf8");
const stages = readDockerfile(text);
const runtime = stages.at(-1)!;
const runtimeSteps = stageSteps(stages, runtime.name);
const EXACT_IMAGE = /^node:\d+\.\d+\.\d+-alpine\d+\.\d+(@sha256:[0-9a-f]{64})?$/;

function only(steps: Step[], keyword: string): Step[] {
  return steps.filter((s) => s.keyword === keyword);
}

/** `KEY=value` pairs of ENV, ARG or LABEL arguments, quotes removed. */
function pairs(steps: Step[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of steps) {
    for (const arg of s.args) {
      const eq = arg.indexOf("=");
      if (eq > 0) out[arg.slice(0, eq)] = arg.slice(eq + 1).replace(/^"(.*)"$/, "$1");
    }
  }
  return out;
}

describe("api/Dockerfile", () => {
  it("has no problems according to dockerfile-utils, which does flag a broken file", () => {
    expect(validate(text)).toEqual([]);
    expect(validate("FROM node:24.22.3-alpine3.23\nEXPOSE port\nCMD\n").length).toBeGreaterThan(0);
  });

  it("is multi-stage: build, production dependencies, then a runtime stage", () => {
    expect(stages.map((s) => s.name)).toEqual(["build", "deps", "runtime"]);
  });

  it("pins every base image to an exact version, the same one in every stage", () => {
    for (const stage of stages) expect(stage.image, stage.name).toMatch(EXACT_IMAGE);
    expect(new Set(stages.map((s) => s.image)).size).toBe(1);
  });

  it("runs the Node.js version of .nvmrc, the one CI and the engines field name", () => {
    const nvmrc = readFileSync(join(REPO_ROOT, ".nvmrc"), "utf8").trim();
    expect(nvmrc).toMatch(/^24\.\d+\.\d+$/);
    expect(/^node:(\d+\.\d+\.\d+)-alpine/.exec(runtime.image)?.[1]).toBe(nvmrc);
  });

  it("builds on the builder's platform and takes only the runtime per target platform", () => {
    expect(stages.find((s) => s.name === "build")?.flags.platform).toBe("$BUILDPLATFORM");
    expect(stages.find((s) => s.name === "deps")?.flags.platform).toBe("$BUILDPLATFORM");
    expect(runtime.flags.platform).toBeUndefined();
  });

  it("installs only the api workspace's production dependencies for the runtime", () => {
    const install = only(stageSteps(stages, "deps"), "RUN")
      .map((s) => s.text)
      .join(" ");
    expect(install).toMatch(/npm ci /);
    expect(install).toContain("--workspace api");
    expect(install).toContain("--omit=dev");
    expect(install).toContain("--ignore-scripts");
  });

  it("runs as a non-root numeric user with UID and GID of at least 10000", () => {
    const users = only(runtimeSteps, "USER");
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.args[0]!.split(":").map(Number);
    expect(uid).toBeGreaterThanOrEqual(10_000);
    expect(gid).toBeGreaterThanOrEqual(10_000);
    // Nothing runs as root after the switch.
    const at = runtimeSteps.indexOf(users[0]!);
    expect(only(runtimeSteps.slice(at), "RUN")).toEqual([]);
  });

  it("works with a read-only root filesystem: no VOLUME, no writable app files, node started directly", () => {
    expect(only(runtimeSteps, "VOLUME")).toEqual([]);
    for (const copy of only(runtimeSteps, "COPY"))
      expect(copy.flags.chown, copy.text).toBeUndefined();
    // npm would write its cache and logs under HOME; node itself writes nothing.
    expect(only(runtimeSteps, "CMD").map((s) => s.text)).toEqual([
      '["node", "--max-semi-space-size=4", "dist/server.js"]',
    ]);
    expect(only(runtimeSteps, "ENTRYPOINT")).toEqual([]);
    expect(
      only(runtimeSteps, "RUN")
        .map((s) => s.text)
        .join(" "),
    ).toMatch(/rm -rf \/usr\/local\/lib\/node_modules/);
  });

  it("exposes the port the service listens on", () => {
    const env = pairs(only(runtimeSteps, "ENV"));
    expect(only(runtimeSteps, "EXPOSE").map((s) => s.args)).toEqual([[env.PORT]]);
    expect(env.PORT).toBe("8080");
    expect(env.NODE_ENV).toBe("production");
  });

  it("labels the image with OCI version, revision and source from build arguments", () => {
    const args = only(runtimeSteps, "ARG").flatMap((s) => s.args.map((a) => a.split("=")[0]));
    expect(args).toEqual(expect.arrayContaining(["VERSION", "GIT_SHA", "SOURCE"]));
    const labels = pairs(only(runtimeSteps, "LABEL"));
    expect(labels).toMatchObject({
      "org.opencontainers.image.version": "${VERSION}",
      "org.opencontainers.image.revision": "${GIT_SHA}",
      "org.opencontainers.image.source": "${SOURCE}",
    });
    const env = pairs(only(runtimeSteps, "ENV"));
    expect(env).toMatchObject({ APP_VERSION: "${VERSION}", GIT_SHA: "${GIT_SHA}" });
  });

  it("ships compiled code and dependencies only, never sources or the build toolchain", () => {
    const copies = only(runtimeSteps, "COPY");
    expect(copies.map((c) => [c.flags.from ?? "context", ...c.args])).toEqual([
      ["deps", "/build/node_modules", "node_modules"],
      ["deps", "/build/api/node_modules", "api/node_modules"],
      ["build", "/build/api/dist", "api/dist"],
      ["context", "api/package.json", "api/package.json"],
    ]);
  });

  it("checks health with node, so no curl or wget is needed", () => {
    expect(only(runtimeSteps, "HEALTHCHECK").map((s) => s.text)).toEqual([
      expect.stringMatching(/CMD \["node", "dist\/healthcheck\.js"\]$/),
    ]);
  });
});

describe("api/Dockerfile.dockerignore", () => {
  const lines = readFileSync(resolve(API_DIR, "Dockerfile.dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));

  it("is an allow-list that re-includes exactly what the build copies from the context", () => {
    expect(lines[0]).toBe("*");
    const allowed = lines.slice(1).map((l) => {
      expect(l.startsWith("!"), l).toBe(true);
      return l.slice(1).replace(/\/$/, "");
    });
    const fromContext = stages
      .flatMap((s) => s.instructions.map(step))
      .filter((s) => s.keyword === "COPY" && s.flags.from === undefined)
      .flatMap((s) => s.args.slice(0, -1));
    expect([...new Set(fromContext)].sort()).toEqual([...allowed].sort());
  });
});

describe("compose.yaml", () => {
  const composePath = resolve(REPO_ROOT, "compose.yaml");
  const compose = parse(readFileSync(composePath, "utf8")) as {
    services: Record<string, Record<string, unknown>>;
  };
  const api = compose.services.api!;

  it("passes dclint (Compose schema and best practices), which does reject a broken file", () => {
    const linter = new DCLinter({
      // Prettier writes YAML strings in double quotes; every other rule keeps its default.
      rules: { "require-quotes-in-ports": [1, { quoteType: "double" }] },
      quiet: false,
      debug: false,
      exclude: [],
    });
    type Result = { messages: Array<{ rule: string; message: string }> };
    const problems = (file: string) =>
      (linter.lintFiles([file], false) as Result[]).flatMap((r) =>
        r.messages.map((m) => `${m.rule}: ${m.message}`),
      );
    expect(problems(composePath)).toEqual([]);
    const broken = join(mkdtempSync(join(tmpdir(), "dclint-")), "compose.yaml");
    writeFileSync(broken, "services:\n  api:\n    read_only: maybe\n    imagee: x\n");
    expect(problems(broken)).not.toEqual([]);
  });

  it("builds api/Dockerfile from the repository root", () => {
    expect(api.build).toMatchObject({ context: ".", dockerfile: "api/Dockerfile" });
  });

  it("runs with the image's hardening: read-only, no new privileges, no capabilities, non-root", () => {
    expect(api.read_only).toBe(true);
    expect(api.security_opt).toContain("no-new-privileges:true");
    expect(api.cap_drop).toEqual(["ALL"]);
    expect(api.user).toBe(only(runtimeSteps, "USER")[0]!.args[0]);
    expect(api.init).toBe(true);
  });

  it("checks health on /healthz and publishes the port on the loopback interface only", () => {
    expect(api.healthcheck).toMatchObject({ test: ["CMD", "node", "dist/healthcheck.js"] });
    expect(readFileSync(resolve(API_DIR, "src", "healthcheck.ts"), "utf8")).toContain('"/healthz"');
    expect(api.ports).toEqual(["127.0.0.1:8080:8080"]);
  });

  it("gives the service longer to stop than its own shutdown timeout", () => {
    const env = api.environment as Record<string, string>;
    const grace = Number(/^(\d+)s$/.exec(String(api.stop_grace_period))?.[1]) * 1000;
    expect(grace).toBeGreaterThan(Number(env.SHUTDOWN_TIMEOUT_MS));
    expect(Number(env.SHUTDOWN_TIMEOUT_MS)).toBeGreaterThan(Number(env.SHUTDOWN_DELAY_MS));
  });
});

import { spawn, type ChildProcess } from "node:child_process";
import { request } from "node:http";
import { connect } from "node:net";
import { resolve } from "node:path";
import { buildApp } from "../../api/src/app";
import { loadConfig, type Config } from "../../api/src/config";
import { Lifecycle } from "../../api/src/lifecycle";
import { createLogging } from "../../api/src/logger";

export const REPO_ROOT = resolve(__dirname, "..", "..");
export const API_DIR = resolve(REPO_ROOT, "api");

/** A valid configuration for in-process tests, with the given environment on top. */
export function testConfig(env: NodeJS.ProcessEnv = {}): Config {
  return loadConfig({
    APP_ENV: "dev",
    GIT_SHA: "0123456789abcdef0123456789abcdef01234567",
    ...env,
  });
}

/** One parsed JSON log line. */
export type LogLine = Record<string, unknown>;

/** An app whose readiness passes, with its log lines collected in memory. */
export function testApp(env: NodeJS.ProcessEnv = {}) {
  const logs: LogLine[] = [];
  const { logger, accessLog } = createLogging("info", {
    write: (line: string) => void logs.push(JSON.parse(line) as LogLine),
  });
  const lifecycle = new Lifecycle();
  lifecycle.markServing();
  const app = buildApp({ config: testConfig(env), lifecycle, logger, accessLog });
  return { app, logs, lifecycle };
}

/** A running `node api/dist/server.js` with its output collected. */
export interface ApiProcess {
  readonly child: ChildProcess;
  readonly port: number;
  output(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
}

/** Starts `dist/server.js` of the api folder `cwd` on 127.0.0.1:`port` with the given environment. */
export function startApi(port: number, env: NodeJS.ProcessEnv = {}, cwd = API_DIR): ApiProcess {
  const child = spawn(process.execPath, [resolve(cwd, "dist", "server.js")], {
    cwd,
    env: { PATH: process.env.PATH, HOST: "127.0.0.1", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | string>((done) =>
    child.on("exit", (code, signal) => done(code ?? signal ?? "unknown")),
  );
  return { child, port, output: () => out, exited };
}

export { freePort } from "../../scripts/free-port";

/** Answer to a plain HTTP request. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One GET (or other method) over a fresh connection. */
export function httpGet(port: number, path: string, method = "GET"): Promise<HttpAnswer> {
  return new Promise((done, fail) => {
    const req = request({ host: "127.0.0.1", port, path, method, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", fail);
    req.end();
  });
}

/** Polls `GET /readyz` until it answers 200; returns the milliseconds it took. */
export async function waitForReady(api: ApiProcess, timeoutMs = 10_000): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (api.child.exitCode !== null) throw new Error(`api exited early:\n${api.output()}`);
    const status = await httpGet(api.port, "/readyz").then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`api not ready:\n${api.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Writes raw bytes on a new connection and returns everything the server sent back before it
 * closed the connection (or until `timeoutMs`).
 */
export function rawExchange(
  port: number,
  bytes: string | Buffer,
  timeoutMs = 3_000,
): Promise<string> {
  return new Promise((done, fail) => {
    const socket = connect({ host: "127.0.0.1", port });
    let got = "";
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on("data", (chunk) => (got += chunk.toString("latin1")));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "ECONNRESET") fail(err);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      done(got);
    });
    socket.write(bytes);
  });
}

/** Status code and JSON body of a raw HTTP response. */
export function parseRaw(raw: string): { status: number; headers: string; body: string } {
  const [head = "", body = ""] = raw.split("\r\n\r\n", 2);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  return { status, headers: head.toLowerCase(), body };
}

// The benchmark's framework floor: Fastify answering `GET /` like the API does, with the API's
// security headers and a request id echoed in `x-request-id`, but no access log, no metrics and
// no other hook. The API's cost above this is its logging and metrics; this side's cost above the
// raw node:http baseline is Fastify's and the headers'. Started by bench/api.ts, which passes the
// API's header list in SECURITY_HEADERS (JSON), so that this process loads Fastify and nothing
// of the API.
"use strict";
/* eslint-disable @typescript-eslint/no-require-imports */
const { randomUUID } = require("node:crypto");
const Fastify = require("fastify");

const SECURITY_HEADERS = JSON.parse(process.env.SECURITY_HEADERS ?? "{}");

const message = "Automate all the things!";
const app = Fastify({ logger: false, genReqId: () => randomUUID() });
app.addHook("onRequest", (request, reply, done) => {
  reply.headers(SECURITY_HEADERS);
  reply.header("x-request-id", request.id);
  done();
});
app.get("/", async () => ({ message, timestamp: Math.floor(Date.now() / 1000) }));
void app.listen({ port: Number(process.env.PORT ?? 8082), host: process.env.HOST ?? "127.0.0.1" });
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));

// The benchmark's baseline: a raw node:http server answering every request with the same JSON as
// the API's `GET /`, with no framework, logging or metrics. Started by bench/api.ts.
"use strict";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createServer } = require("node:http");

const message = "Automate all the things!";
const port = Number(process.env.PORT ?? 8081);
const host = process.env.HOST ?? "127.0.0.1";

const server = createServer((_req, res) => {
  const body = JSON.stringify({ message, timestamp: Math.floor(Date.now() / 1000) });
  res.writeHead(200, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
});
server.listen(port, host);
process.on("SIGTERM", () => server.close(() => process.exit(0)));

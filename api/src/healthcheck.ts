import { request } from "node:http";

/**
 * Container health check without curl or wget in the image: exits 0 when `GET /healthz` on the
 * local port answers 200 within two seconds, 1 otherwise.
 */
const port = Number(process.env.PORT ?? "8080");
const req = request({ host: "127.0.0.1", port, path: "/healthz", timeout: 2_000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on("timeout", () => req.destroy(new Error("timeout")));
req.on("error", () => process.exit(1));
req.end();

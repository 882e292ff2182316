// The least the daemon's control API takes in a compiled Bun program (bench/hot-paths.ts, idle rows): an Elysia app
// with one route, listening on loopback, then idle. Nothing of ours.
import { Elysia } from "elysia";

new Elysia().get("/healthz", () => ({ status: "ok" })).listen({ hostname: "127.0.0.1", port: 0 });
console.error("floor ready");

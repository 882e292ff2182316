// GET /api/v1/status: the whole picture in one object.
import { Elysia } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { DaemonStatus } from "../../schemas.ts";
import { PUBLIC } from "../../security/policy.ts";
import { buildStatus } from "./service.ts";

export const statusModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1/status" }).get("", () => buildStatus(deps.ctx), {
    response: { 200: DaemonStatus },
    detail: {
      ...PUBLIC,
      tags: ["status"],
      summary: "Daemon, upstreams, tunnel, quality, alerts and sign-in state",
      description: "The same object /ws sends as its first message (type `snapshot`).",
    },
  });

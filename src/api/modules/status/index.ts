// GET /api/v1/status: the whole picture in one object.
import { Elysia } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { DaemonStatus } from "../../schemas.ts";
import { access } from "../../security/access.ts";
import { buildStatus } from "./service.ts";

export const statusModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1/status" }).use(access).get("", () => buildStatus(deps.ctx), {
    response: { 200: DaemonStatus },
    access: "public", detail: {
      tags: ["status"],
      summary: "Daemon, upstreams, tunnel, quality, alerts and sign-in state",
      description: "The same object /ws sends as its first message (type `snapshot`).",
    },
  });

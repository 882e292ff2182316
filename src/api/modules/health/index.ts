// GET /healthz (liveness) and GET /readyz (readiness); both open, no token.
import { Elysia } from "elysia";
import { ERROR_CODE_HEADER } from "../../../core/http-error.ts";
import type { ApiDeps } from "../../deps.ts";
import { access } from "../../security/access.ts";
import { Health, Ready } from "./model.ts";
import { readiness } from "./service.ts";

export const healthModule = (deps: ApiDeps) =>
  new Elysia().use(access)
    .get("/healthz", () => ({ status: "ok" as const }), {
      response: { 200: Health },
      access: "public", detail: { tags: ["health"], summary: "Liveness: the process answers" },
    })
    .get(
      "/readyz",
      ({ set }) => {
        const r = readiness(deps.ctx);
        if (!r.ready) {
          set.status = 503;
          // The body is the state (probes read the status); the code goes in the header, as on every refusal (docs/errors.md).
          set.headers[ERROR_CODE_HEADER] = "not_ready";
        }
        return r;
      },
      {
        response: { 200: Ready, 503: Ready },
        access: "public", detail: { tags: ["health"], summary: "Readiness: config loaded and an upstream up (or the tunnel connected in tunnel-only setups)" },
      },
    );

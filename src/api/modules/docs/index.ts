// Swagger UI at /swagger, loaded lazily a moment after start-up (it costs start-up time and is rarely opened).
import { Elysia } from "elysia";
import type { ApiDeps } from "../../deps.ts";

/** Long enough for the first /healthz of a starting daemon to be answered before the OpenAPI code loads. */
const DOCS_DELAY_MS = 250;

export const docsModule = (deps: ApiDeps) =>
  new Elysia({ name: "docs" }).use(new Promise<void>((r) => setTimeout(r, DOCS_DELAY_MS)).then(() => import("./openapi.ts")).then((m) => m.openapi(deps)));

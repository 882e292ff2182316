// GET /api/v1/events: the bounded ring of recent daemon events (URLs in them redacted, as on /ws).
import { Elysia, t } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { errors } from "../../schemas.ts";
import { access } from "../../security/access.ts";
import { DaemonEvent, EventsQuery } from "./model.ts";
import { recentEvents } from "./service.ts";
import { redactUrlsDeep } from "../../../net/redact-url.ts";
import { holdsCredentials, withoutSignInCode } from "../../security/private-view.ts";

export const eventsModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1/events" }).use(access).get("", ({ query, request, server }) => {
    const events = recentEvents(deps.ctx, query);
    return redactUrlsDeep(holdsCredentials(request, deps, server) ? events : events.map(withoutSignInCode));
  }, {
    query: EventsQuery,
    response: { 200: t.Array(DaemonEvent), ...errors(422) },
    access: "public", detail: { tags: ["events"], summary: "Recent events, oldest first (the same types /ws sends); a device sign-in's code only with the token or a dashboard session" },
  });

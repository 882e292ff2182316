// "Ask for access" from a bookmarked dashboard: the page asks (POST /auth/request), waits (/auth/wait), and the owner
// approves its short code with the token (`dashboard approve CODE`, the tray, POST /api/v1/dashboard/approve).
import { Elysia, t } from "elysia";
import { logger } from "../../../core/log.ts";
import type { ApiDeps } from "../../deps.ts";
import { errors } from "../../schemas.ts";
import { access } from "../../security/access.ts";
import { ACCESS_COOKIE, accessRequestsFor } from "../../security/access-requests.ts";
import { requestHost } from "../../security/host.ts";
import { fromOtherUser, type PeerSource } from "../../../net/peer-uid.ts";
import { readCookies, sessionsFor } from "../../security/sessions.ts";
import { accessPage, otherUserPage } from "./pages.ts";
import { approveAccess } from "./service.ts";

const tags = ["dashboard"];
const log = logger("dashboard");

const accessCookie = (value: string, maxAgeSec: number) => `${ACCESS_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/auth; Max-Age=${maxAgeSec}`;

/** Only the dashboard's own page may ask: a form on another site (even another port of localhost) may not raise requests. */
function ownPage(request: Request): boolean {
  const origin = request.headers.get("origin");
  if (!origin) return false;
  if (origin.toLowerCase() !== `http://${requestHost(request).toLowerCase()}`) return false;
  const site = request.headers.get("sec-fetch-site");
  return !site || site === "same-origin";
}

const approveHint = (code: string) => `cloudtolocalllm-tunnel dashboard approve ${code}`;

export const PendingAccess = t.Object({
  code: t.String({ description: "The short code the asking page shows.", examples: ["K7QM-3XHD"] }),
  createdAt: t.String(),
  expiresAt: t.String({ description: "After this the request is gone; the page can ask again." }),
});

export const dashboardAccessModule = (deps: ApiDeps) =>
  new Elysia({ name: "dashboard-access" })
    .use(access)
    .post(
      "/auth/request",
      async ({ request, server }) => {
        // Another user on this machine may not even ask: the owner would see a code in a notification and might approve it.
        if (fromOtherUser(server as PeerSource | null, request)) return otherUserPage();
        if (!ownPage(request)) return accessPage(403, "Ask from the dashboard page", "Access can only be asked for from the dashboard's own page.", { ask: false });
        const r = accessRequestsFor(deps.ctx).ask();
        if (!r.ok) return accessPage(429, "Too many requests", r.reason, { ask: true });
        log.info("dashboard access requested", { code: r.code, approve: approveHint(r.code) });
        deps.ctx.events.emit("dashboard.access", { code: r.code, state: "requested", expiresAt: new Date(r.expiresAt).toISOString() });
        deps.ctx.services.alerts?.notify?.({
          title: "Dashboard access requested",
          body: `A browser on this machine asks for the dashboard and shows code ${r.code}. If it is yours, approve: ${approveHint(r.code)}`,
          urgency: "normal",
        });
        return new Response(null, {
          status: 303,
          headers: { location: "/auth/wait", "set-cookie": accessCookie(r.secret, Math.ceil((r.expiresAt - Date.now()) / 1000)), "cache-control": "no-store" },
        });
      },
      { access: "public", detail: { tags, summary: "The page asks for access: a pending request with a short code for the owner to approve; 303 to /auth/wait" } },
    )
    .get(
      "/auth/wait",
      async ({ request, server }) => {
        if (fromOtherUser(server as PeerSource | null, request)) return otherUserPage();
        // Each value of the cookie: one set by a page on another port of this host must not hide the asking browser's own.
        const requests = accessRequestsFor(deps.ctx);
        let r = requests.claim(null);
        for (const secret of readCookies(request.headers.get("cookie"), ACCESS_COOKIE)) if ((r = requests.claim(secret)).state !== "gone") break;
        if (r.state === "approved") {
          // The same path as a one-time link: a code minted and traded at once, so sessions are made in one place.
          const s = sessionsFor(deps.ctx).exchange(sessionsFor(deps.ctx).issueCode().code)!;
          log.info("dashboard access approved", { code: r.code });
          const headers = new Headers({ location: "/", "cache-control": "no-store", "referrer-policy": "no-referrer" });
          headers.append("set-cookie", s.setCookie);
          headers.append("set-cookie", accessCookie("", 0));
          return new Response(null, { status: 303, headers });
        }
        if (r.state === "pending")
          return accessPage(202, `Approve code ${r.code}`, "Waiting for the owner of this machine to approve this browser.", { code: r.code, waiting: true, ask: false });
        return accessPage(401, "Not approved", "This access request was not approved in time (requests last two minutes), or it was refused.", { ask: true });
      },
      { access: "public", detail: { tags, summary: "Where an asking page waits: its code while pending, the session cookie and 303 to / once approved" } },
    )
    .post(
      "/api/v1/dashboard/approve",
      ({ body }) => approveAccess(deps.ctx, body.code),
      {
        body: t.Object({ code: t.String({ minLength: 1, maxLength: 40, description: "The code the asking page shows." }) }),
        response: { 200: t.Object({ approved: t.Literal(true) }), ...errors(400, 401, 404, 413, 415, 422) },
        // The token only: a dashboard session must not let in other browsers.
        access: "token",
        detail: { tags, summary: "Approve a waiting dashboard access request by its code (what `dashboard approve CODE` and the tray do)" },
      },
    )
    .get(
      "/api/v1/dashboard/requests",
      () => ({
        requests: accessRequestsFor(deps.ctx)
          .waiting()
          .map((p) => ({ code: p.code, createdAt: new Date(p.createdAt).toISOString(), expiresAt: new Date(p.expiresAt).toISOString() })),
      }),
      {
        response: { 200: t.Object({ requests: t.Array(PendingAccess) }), ...errors(401) },
        access: "token",
        detail: { tags, summary: "Dashboard access requests waiting for approval (oldest first)" },
      },
    );

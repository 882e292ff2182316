// The dashboard's routes: GET / (the page), /dashboard/* (its assets), /auth (one-time code → session cookie) and /api/v1/dashboard/*.
import { Elysia, t } from "elysia";
import { HttpError } from "../../../core/http-error.ts";
import type { ApiDeps } from "../../deps.ts";
import { errors } from "../../schemas.ts";
import { requestHost } from "../../security/host.ts";
import { access } from "../../security/access.ts";
import { fromOtherUser, type PeerSource } from "../../../net/peer-uid.ts";
import { AuthQuery, ChartHistory, IssuedCode, SessionInfo } from "./model.ts";
import { dashboardAsset, dashboardPage, otherUserPage, plainPage } from "./pages.ts";
import { chartHistory, endSession, exchangeCode, issueCode, sessionOf } from "./service.ts";

const tags = ["dashboard"];

export const dashboardModule = (deps: ApiDeps) =>
  new Elysia({ name: "dashboard" }).use(access)
    .get(
      "/",
      ({ request, server }) => {
        // The session (and the CSRF token the page carries) only for the daemon's own user: see security/auth.ts.
        const s = fromOtherUser(server as PeerSource | null, request) ? null : sessionOf(deps.ctx, request.headers.get("cookie"));
        if (s) return dashboardPage(s.csrf);
        return plainPage(401, "Open the dashboard from your desktop", "This browser has no dashboard session (or it has ended).");
      },
      { access: "public", detail: { tags, summary: "The dashboard page (HTML; needs the session cookie from /auth, else a page saying how to open it or ask for access)" } },
    )
    .get(
      "/auth",
      ({ query, request, server }) => {
        // Checked before the code is spent: another user's try must not burn the owner's link either.
        if (fromOtherUser(server as PeerSource | null, request)) return otherUserPage();
        const s = exchangeCode(deps.ctx, query.code);
        if (!s) return plainPage(401, "This dashboard link has expired", "Dashboard links work once, for about a minute.");
        // 303 to "/": the code leaves the address bar, and a reload cannot replay it.
        return new Response(null, {
          status: 303,
          headers: { location: "/", "set-cookie": s.setCookie, "cache-control": "no-store", "referrer-policy": "no-referrer" },
        });
      },
      {
        query: AuthQuery,
        access: "public", detail: { tags, summary: "Trade a one-time code for the dashboard session cookie (HttpOnly, SameSite=Strict), then 303 to /" },
      },
    )
    .get(
      "/dashboard/:file",
      async ({ params, request }) => {
        const r = await dashboardAsset(params.file, new URL(request.url).searchParams.get("v"));
        if (!r) throw new HttpError("not_found", `no dashboard file "${params.file}"`);
        return r;
      },
      { access: "public", detail: { tags, summary: "The dashboard's script, styles and icon (app.js, app.css, icon.svg)" } },
    )
    .post("/api/v1/dashboard/code", ({ request }) => issueCode(deps.ctx, requestHost(request)), {
      response: { 200: IssuedCode, ...errors(401) },
      // Only a token holder may mint a code: a dashboard session cannot extend itself this way.
      access: "token", detail: { tags, summary: "Mint a one-time code for the dashboard URL (what `cloudtolocalllm-tunnel dashboard` and the tray do)" },
    })
    .get("/api/v1/dashboard/history", () => chartHistory(deps.ctx), {
      response: { 200: ChartHistory, ...errors(401) },
      detail: { tags, summary: "The last 15 minutes of each upstream's latency p50/p95, requests/s and tokens/s (the dashboard's charts)" },
    })
    .get("/api/v1/dashboard/session", ({ request }) => ({ via: request.headers.has("authorization") ? ("bearer" as const) : ("cookie" as const) }), {
      response: { 200: SessionInfo, ...errors(401) },
      detail: { tags, summary: "Whether this request's session cookie (or token) is still accepted" },
    })
    .post(
      "/api/v1/dashboard/logout",
      ({ request }) => new Response(null, { status: 204, headers: { "set-cookie": endSession(deps.ctx, request.headers.get("cookie")) } }),
      { response: { 204: t.Void(), ...errors(401) }, detail: { tags, summary: "End this browser's dashboard session" } },
    );

// GET /api/v1/auth, POST /api/v1/auth/login (device flow), /logout and /reload (after a CLI login).
import { Elysia } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { errors } from "../../schemas.ts";
import { access } from "../../security/access.ts";
import { holdsCredentials, withoutPendingCode } from "../../security/private-view.ts";
import { AuthStatusBody, DeviceLoginStarted } from "./model.ts";
import { authStatus, logout, reload, startLogin } from "./service.ts";

const tags = ["auth"];

export const authModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1/auth" }).use(access)
    .get("", ({ request, server }) => (holdsCredentials(request, deps, server) ? authStatus(deps.ctx) : withoutPendingCode(authStatus(deps.ctx))), {
      response: { 200: AuthStatusBody },
      access: "public",
      detail: { tags, summary: "Sign-in state: signed_in, signed_out, login_required (with the reason) or disabled; a pending device sign-in's code only with the token or a dashboard session" },
    })
    .post(
      "/login",
      async ({ set }) => {
        const started = await startLogin(deps.ctx);
        set.status = 202;
        return started;
      },
      {
        response: { 202: DeviceLoginStarted, ...errors(401, 409, 502, 503) },
        detail: {
          tags,
          summary: "Start a device sign-in: returns the URL and code to show; auth.progress and auth.state events follow",
        },
      },
    )
    .post("/logout", () => logout(deps.ctx), {
      response: { 200: AuthStatusBody, ...errors(401, 503) },
      detail: { tags, summary: "Sign out: revoke the refresh token at the issuer and delete the stored tokens" },
    })
    .post("/reload", () => reload(deps.ctx), {
      response: { 200: AuthStatusBody, ...errors(401, 503) },
      detail: { tags, summary: "Re-read the stored tokens (the `login` and `logout` commands call this)" },
    });

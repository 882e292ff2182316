// Authorization Code with PKCE and a loopback redirect (RFC 8252): a one-shot listener on 127.0.0.1, ephemeral port.
import * as client from "openid-client";
import { audienceParams, discover, scopeParam, type AuthConfig } from "./oidc.ts";
import { sessionFromTokens, type AuthSession } from "./session.ts";
import { fromOtherUser } from "../net/peer-uid.ts";
import { authPage as page, plainRefusal } from "../core/plain-page.ts";
import { logger } from "../core/log.ts";
import { requestProblem } from "../core/request-checks.ts";
import { lastResort } from "../core/serve-fallback.ts";

const log = logger("auth");

export interface PkceLoginOptions {
  /** Called with the authorization URL to open in the browser. */
  onUrl(url: string): void;
  /** Time the user has to finish in the browser; default 5 minutes. */
  timeoutMs?: number;
  oidc?: client.Configuration;
}


export async function pkceLogin(auth: AuthConfig, opts: PkceLoginOptions): Promise<AuthSession> {
  const config = opts.oidc ?? (await discover(auth));
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const extra = audienceParams(auth);

  let settle!: { resolve: (s: AuthSession) => void; reject: (e: Error) => void };
  const done = new Promise<AuthSession>((resolve, reject) => (settle = { resolve, reject }));
  let redirectUri = "";
  let handled = false;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Bun's development mode is on by default (the compiled binary too): serve-fallback.ts says what it would show.
    development: false,
    error: lastResort(log, "sign-in callback", () => page("Something went wrong", "Return to the terminal for details.", 500)),
    async fetch(req, srv) {
      // Without Host (HTTP/1.0), or CONNECT, the URL is a bare target new URL() refuses: not the browser coming back.
      const problem = requestProblem(req);
      if (problem) return plainRefusal(problem);
      const url = new URL(req.url);
      if (url.pathname !== "/callback" || handled) return new Response("Not found", { status: 404 });
      // The authorization URL (with our state) was in xdg-open's argv: another local user could sign in at the issuer
      // with it and send their own browser here, signing us in to their account. Only this user's browser may finish.
      if (fromOtherUser(srv, req)) return page("Not your sign-in", "Only the user who started the sign-in can finish it.", 403);
      // Only the redirect that carries our state ends the flow; anything else on this port is ignored.
      if (url.searchParams.get("state") !== state) return new Response("Unexpected request", { status: 400 });
      handled = true;
      try {
        const tokens = await client.authorizationCodeGrant(config, new URL(`${redirectUri}${url.search}`), { pkceCodeVerifier: verifier, expectedState: state }, extra);
        settle.resolve(sessionFromTokens(tokens, { issuer: auth.issuer, clientId: auth.client_id }));
        return page("Signed in", "CloudToLocalLLM is signed in. You can close this window.");
      } catch (e) {
        const err = e as { error?: string; error_description?: string; message?: string };
        const msg = err.error ? `${err.error}${err.error_description ? `: ${err.error_description}` : ""}` : (err.message ?? String(e));
        settle.reject(new Error(`The sign-in failed: ${msg}`));
        return page("Sign-in failed", "Return to the terminal for details.");
      }
    },
  });
  redirectUri = `http://127.0.0.1:${server.port}/callback`;
  const timer = setTimeout(() => settle.reject(new Error("The sign-in timed out: the browser did not come back.")), opts.timeoutMs ?? 300_000);
  try {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: scopeParam(auth),
      code_challenge: challenge,
      code_challenge_method: "S256",
      state,
      // OpenID Connect ignores offline_access (no refresh token) unless the user is asked for consent.
      ...(auth.scopes.includes("offline_access") ? { prompt: "consent" } : {}),
      ...extra,
    });
    opts.onUrl(url.href);
    return await done;
  } finally {
    clearTimeout(timer);
    // Graceful: the browser still gets the "Signed in" page it is waiting for.
    void server.stop();
  }
}

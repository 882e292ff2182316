// The Device Authorization Grant (RFC 8628): get a user code, show it, poll the issuer until the user approves.
import type * as client from "openid-client";
import { audienceParams, discover, openidClient, scopeParam, type AuthConfig } from "./oidc.ts";
import { sessionFromTokens, type AuthSession } from "./session.ts";
import { redactUrl } from "../net/redact-url.ts";

export interface DeviceLogin {
  verificationUri: string;
  verificationUriComplete: string | null;
  userCode: string;
  expiresAt: string;
  /** Resolves once the user approved (rejects on denial, expiry or cancel). */
  result: Promise<AuthSession>;
  cancel(): void;
}

export async function startDeviceLogin(auth: AuthConfig, oidc?: client.Configuration): Promise<DeviceLogin> {
  const config = oidc ?? (await discover(auth));
  if (!config.serverMetadata().device_authorization_endpoint) {
    throw new Error(`The issuer ${redactUrl(auth.issuer)} does not support the device flow; use \`login --pkce\`.`);
  }
  const extra = audienceParams(auth);
  const oc = await openidClient();
  const resp = await oc.initiateDeviceAuthorization(config, { scope: scopeParam(auth), ...extra });
  const abort = new AbortController();
  const ids = { issuer: auth.issuer, clientId: auth.client_id };
  // openid-client notices the abort only between its 5 s wait steps, and then reports it as "something went wrong":
  // a cancel (Ctrl-C, logout) settles the result at once, with its own sentence.
  const { promise: cancelled, reject: cancelNow } = Promise.withResolvers<never>();
  const result = Promise.race([oc.pollDeviceAuthorizationGrant(config, resp, extra, { signal: abort.signal }), cancelled]).then((tokens) =>
    sessionFromTokens(tokens, ids),
  );
  // Callers may never await `result` (e.g. the API after a logout); an unhandled rejection must not crash the daemon.
  result.catch(() => {});
  return {
    verificationUri: resp.verification_uri,
    verificationUriComplete: resp.verification_uri_complete ?? null,
    userCode: resp.user_code,
    expiresAt: new Date(Date.now() + resp.expires_in * 1000).toISOString(),
    result,
    cancel: () => {
      const why = new Error("The sign-in was cancelled.");
      cancelNow(why);
      abort.abort(why);
    },
  };
}

// `login`: signs in to the [auth] issuer (device code by default, --pkce for a browser redirect) and stores the tokens.
import { CliError, parse, type Command } from "./args.ts";
import { API_HELP, API_OPTIONS } from "./daemon-api.ts";
import { loadCliConfig } from "./local-auth.ts";
import { discover, revokeRefreshToken } from "../auth/oidc.ts";
import { startDeviceLogin } from "../auth/device-flow.ts";
import { pkceLogin } from "../auth/pkce-flow.ts";
import { openBrowser } from "../auth/browser.ts";
import { openSignInPage } from "../desktop/private-link.ts";
import { loadSession, saveSession, SESSION_SECRET, type AuthSession } from "../auth/session.ts";
import { SignInNotStorableError } from "../auth/sign-in-not-storable.ts";
import { callDaemon } from "./daemon-call.ts";
import { openSecretStore } from "../secrets/open-secret-store.ts";
import { writeStderrLine } from "../core/stderr-line.ts";
import { UNIT } from "../desktop/systemd-user.ts";

/**
 * What to do when the running daemon could not be told: `reload` (SIGHUP) re-reads the config file only, and the stored
 * sign-in only with a change of [auth]; a restart reads it, and a signed-in daemon finds it at its next token refresh.
 */
export function notToldNote(message: string): string {
  return `note: the running daemon was not told about the sign-in (${message}); restart it to use it now (\`systemctl --user restart ${UNIT}\`); a daemon that was signed in takes it up at its next token refresh.`;
}

const command: Command = {
  name: "login",
  help: `Usage: cloudtolocalllm-tunnel login [--pkce | --device] [--no-browser] [--url URL] [--config FILE]

Signs in to the issuer set in [auth] (issuer, client_id, audience, scopes). The access, refresh and ID
tokens go to the secret store (desktop keyring, else a 0600 file), never to the config file. A running
daemon picks them up at once, refreshes the access token before it expires and uses it for the tunnel.

  (default)      Device Authorization Grant: prints a URL and a code to enter there (any device will do)
  --pkce         Authorization Code with PKCE: the browser comes back to 127.0.0.1 on a random port
  --device       the device flow even when [auth] flow = "pkce"
  --no-browser   only print the URL; do not run xdg-open

Options:
${API_HELP}`,
  async run(argv) {
    const { values } = parse(
      argv,
      {
        ...API_OPTIONS,
        pkce: { type: "boolean" },
        device: { type: "boolean" },
        "no-browser": { type: "boolean" },
      },
      false,
    );
    const { config } = loadCliConfig(values.config);
    const auth = config.auth;
    const browser = (url: string) => !values["no-browser"] && openBrowser(url);
    const flow = values.pkce ? "pkce" : values.device ? "device" : auth.flow;
    // Where the tokens will go is checked before the issuer is asked: a grant made and then not stored (a locked keyring)
    // leaves a live refresh token at the issuer that nothing holds, after the user went through the whole sign-in.
    {
      const store = await openSecretStore(config).catch((e) => {
        throw new CliError((e as Error).message);
      });
      const problem = await store.checkWritable();
      await store.close();
      if (problem) throw new CliError(new SignInNotStorableError(problem).message);
    }
    let session: AuthSession;
    let oidc: Awaited<ReturnType<typeof discover>>;
    try {
      oidc = await discover(auth);
      if (flow === "pkce") {
        session = await pkceLogin(auth, {
          oidc,
          onUrl(url) {
            const opened = browser(url);
            writeStderrLine(opened ? "Continue the sign-in in your browser. If it did not open, visit:" : "Open this address in a browser on this machine:");
            writeStderrLine(`  ${url}`);
          },
        });
      } else {
        const d = await startDeviceLogin(auth, oidc);
        writeStderrLine(`To sign in, open ${d.verificationUri} and enter the code:\n\n    ${d.userCode}\n`);
        // The complete URI holds the code: the browser gets it through a loopback redirect, argv only the link.
        const { link, opened } = values["no-browser"] ? { link: null, opened: false } : await openSignInPage(d, browser);
        if (opened) writeStderrLine("(A browser window was opened for you.)");
        else link?.close();
        writeStderrLine("Waiting for the sign-in to be approved…");
        const stop = () => d.cancel();
        process.once("SIGINT", stop);
        try {
          session = await d.result;
        } finally {
          process.off("SIGINT", stop);
          link?.close();
        }
      }
    } catch (e) {
      const err = e as { error?: string; error_description?: string; message?: string };
      throw new CliError(err.error ? `the sign-in failed: ${err.error}${err.error_description ? ` (${err.error_description})` : ""}.` : (err.message ?? String(e)));
    }
    const store = await openSecretStore(config).catch((e) => {
      throw new CliError((e as Error).message);
    });
    // The sign-in this one replaces (a login over a stored one): its refresh token would stay live at the issuer with
    // nothing holding it. Read just before the write, so a refresh the daemon stored meanwhile is the one revoked.
    let replaced: string | null = null;
    try {
      if (store.warning) writeStderrLine(`warning: ${store.warning}`);
      // A session given in CLOUDTOLOCALLLM_SECRET_AUTH_SESSION is not replaced by the write: not ours to revoke.
      replaced = store.fromEnv(SESSION_SECRET) ? null : await loadSession(store).then(
        (old) => (old?.refreshToken && old.issuer === auth.issuer && old.clientId === auth.client_id && old.refreshToken !== session.refreshToken ? old.refreshToken : null),
        () => null,
      );
      await saveSession(store, session);
    } catch (e) {
      // This process ends and nothing holds the refresh token, which the issuer would honour until it expires: revoked.
      const revoked = session.refreshToken ? await revokeRefreshToken(oidc, session.refreshToken) : null;
      const what = !session.refreshToken ? "" : revoked === null ? "; the sign-in was revoked at the issuer" : `; the sign-in could not be revoked at the issuer (${revoked})`;
      throw new CliError(`nothing was signed in: the tokens could not be stored: ${(e as Error).message}${what}`);
    } finally {
      await store.close();
    }
    const who = session.name && session.subject && session.name !== session.subject ? `${session.name} (${session.subject})` : (session.name ?? session.subject ?? "unknown user");
    console.log(`Signed in as ${who}.`);
    const r = await callDaemon(values, "POST", "/api/v1/auth/reload");
    if (r.reached && r.ok) writeStderrLine("The running daemon now uses this sign-in.");
    else if (r.reached) writeStderrLine(notToldNote(r.message));
    // Only now, with the new sign-in stored (a failed one keeps the old) and the daemon on it (else its next refresh of
    // the old one would be refused mid-switch): the replaced grant is revoked. Best effort, as logout's.
    if (replaced) {
      const problem = await revokeRefreshToken(oidc, replaced).catch((e: Error) => e.message);
      if (problem) writeStderrLine(`note: the previous sign-in could not be revoked at the issuer (${problem}).`);
    }
    return 0;
  },
};
export default command;

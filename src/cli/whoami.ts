// `whoami`: prints who is signed in and until when (from the running daemon, else from the stored tokens).
import { parse, type Command } from "./args.ts";
import { API_HELP, API_OPTIONS } from "./daemon-api.ts";
import { loadCliConfig, withLocalAuth } from "./local-auth.ts";
import type { AuthStatus } from "../auth/manager.ts";
import { callDaemon } from "./daemon-call.ts";
import { redactUrl } from "../net/redact-url.ts";

const command: Command = {
  name: "whoami",
  help: `Usage: cloudtolocalllm-tunnel whoami [--json] [--url URL] [--config FILE]

Prints the signed-in user, the issuer and when the access token expires. Asks the running daemon
first (it knows whether a refresh failed), else reads the stored tokens. Exit code 1 when not signed in.

Options:
  --json              print the state as JSON (never contains a token)
${API_HELP}`,
  async run(argv) {
    const { values } = parse(argv, { ...API_OPTIONS, json: { type: "boolean" } }, false);
    const { config } = loadCliConfig(values.config);
    let status: AuthStatus | null = null;
    const r = await callDaemon<AuthStatus>(values, "GET", "/api/v1/auth");
    if (r.reached && r.ok) status = r.body;
    status ??= await withLocalAuth(config, async (manager) => manager.status());
    // Shown as every URL is (docs/api.md): a credential in it hidden.
    const issuer = redactUrl(config.auth.issuer);
    if (values.json) {
      console.log(JSON.stringify({ ...status, issuer: issuer || null }, null, 2));
      return status.state === "signed_in" ? 0 : 1;
    }
    switch (status.state) {
      case "disabled":
        console.log("Sign-in is not configured ([auth] issuer is empty).");
        return 1;
      case "signed_out":
        // A reason here means the stored sign-in could not be read (a locked keyring), not that there is none.
        if (status.reason) console.log(`Cannot tell whether you are signed in to ${issuer}: ${status.reason}`);
        else console.log(`Not signed in to ${issuer}. Run \`cloudtolocalllm-tunnel login\`.`);
        return 1;
      case "login_required":
        console.log(`Sign-in required${status.reason ? `: ${status.reason}` : ""}. Run \`cloudtolocalllm-tunnel login\`.`);
        return 1;
      default: {
        const who = status.name && status.name !== status.subject ? `${status.name} (${status.subject})` : (status.subject ?? "unknown user");
        console.log(`Signed in as ${who} at ${issuer}.`);
        if (status.expiresAt) console.log(`Access token valid until ${status.expiresAt} (refreshed automatically by the daemon).`);
        // The daemon holds tokens the store refused: the next start would not be signed in (or with an older sign-in).
        if (status.unstored) console.log(`Signed in ${status.unstored}.`);
        return 0;
      }
    }
  },
};
export default command;

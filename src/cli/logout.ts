// `logout`: revokes the refresh token at the issuer and deletes the stored tokens.
import { CliError, parse, type Command } from "./args.ts";
import { API_HELP, API_OPTIONS } from "./daemon-api.ts";
import { loadCliConfig, withLocalAuth } from "./local-auth.ts";
import { callDaemon } from "./daemon-call.ts";
import { writeStderrLine } from "../core/stderr-line.ts";

const command: Command = {
  name: "logout",
  help: `Usage: cloudtolocalllm-tunnel logout [--url URL] [--config FILE]

Revokes the refresh token at the [auth] issuer (best effort) and deletes the tokens from the secret
store. A running daemon stops using them at once.

Options:
${API_HELP}`,
  async run(argv) {
    const { values } = parse(argv, API_OPTIONS, false);
    const { config } = loadCliConfig(values.config);
    await withLocalAuth(config, async (manager) => {
      const was = manager.status();
      try {
        await manager.logout();
      } catch (e) {
        // E.g. a locked keyring: the tokens are still stored and a daemon would sign in with them again at its next start.
        throw new CliError(`The sign-in tokens could not be deleted from the secret store, so you are still signed in: ${(e as Error).message}`);
      }
      console.log(was.subject ? `Signed out ${was.name ?? was.subject}.` : "Not signed in; nothing to do.");
    });
    const r = await callDaemon(values, "POST", "/api/v1/auth/reload");
    if (r.reached && !r.ok) writeStderrLine(`note: the running daemon was not told about the sign-out (${r.message}).`);
    return 0;
  },
};
export default command;

// `logout`: revokes the refresh token at the issuer and deletes the stored tokens.
import { CliError, parse, type Command } from "./args.ts";
import { API_HELP, API_OPTIONS } from "./api-client.ts";
import { loadCliConfig } from "../auth/cli-config.ts";
import { AuthManager } from "../auth/manager.ts";
import { callDaemon } from "../auth/daemon-client.ts";
import { openSecretStore } from "../secrets/open-secret-store.ts";
import { EventBus } from "../core/events.ts";

const command: Command = {
  name: "logout",
  summary: "Sign out: revoke the refresh token and delete the stored tokens",
  help: `Usage: cloudtolocalllm-tunnel logout [--config FILE]

Revokes the refresh token at the [auth] issuer (best effort) and deletes the tokens from the secret
store. A running daemon stops using them at once.

Options:
${API_HELP}`,
  async run(argv) {
    const { values } = parse(argv, API_OPTIONS, false);
    const { config } = loadCliConfig(values.config);
    const store = await openSecretStore(config).catch((e) => {
      throw new CliError((e as Error).message);
    });
    try {
      // The same code path as the daemon's logout, on a throw-away manager.
      const manager = new AuthManager({ config: () => config.auth, secrets: () => store, events: new EventBus(10) });
      await manager.reload();
      const was = manager.status();
      await manager.logout();
      console.log(was.subject ? `Signed out ${was.name ?? was.subject}.` : "Not signed in; nothing to do.");
    } finally {
      await store.close();
    }
    const r = await callDaemon(values, "POST", "/api/v1/auth/reload");
    if (r.reached && !r.ok) console.error(`note: the running daemon was not told about the sign-out (${r.message}).`);
    return 0;
  },
};
export default command;

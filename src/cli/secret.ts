// `secret set|get|delete|list`: manages the secrets the config refers to by name (values come from stdin, never argv).
import { CliError, didYouMean, parse, UsageError, type Command } from "./args.ts";
import { loadCliConfig } from "./local-auth.ts";
import { openSecretStore } from "../secrets/open-secret-store.ts";
import { checkSecretName, secretEnvVar } from "../config/secret-names.ts";
import { writeStderrLine } from "../core/stderr-line.ts";
import { codeInfo } from "../core/error-codes.ts";

/** Reads one value: all of piped stdin, or a line typed without echo on a terminal. */
async function readValue(name: string): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write(`Value for ${name} (input hidden): `);
    const value = await readHiddenLine();
    process.stderr.write("\n");
    return value;
  }
  const text = await new Response(Bun.stdin.stream()).text();
  // One trailing newline comes from `echo` or a heredoc, not from the secret.
  return text.replace(/\r?\n$/, "");
}

/** CSI and SS3 sequences a terminal sends for special keys (ESC [ … final byte, ESC O letter), and a lone ESC. */
const ESCAPE_SEQUENCE = /\x1b(\[[0-?]*[ -/]*[@-~]|O[@-~])?/g;

function readHiddenLine(): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    let value = "";
    stdin.setRawMode(true);
    stdin.resume();
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      err ? reject(err) : resolve(value);
    };
    const onData = (buf: Buffer) => {
      // Keys that send escape sequences (arrows, Home, Delete, F-keys) are not part of a secret: without echo nobody
      // would see them land in it.
      for (const ch of buf.toString("utf8").replace(ESCAPE_SEQUENCE, "")) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(new CliError("cancelled."));
        // Ctrl-D ends the input as it does at a shell prompt (on an empty line: nothing to store).
        if (ch === "\u0004") return done();
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else if (ch === "\u0015") value = ""; // Ctrl-U: start the line over
        else if (ch >= " ") value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

const command: Command = {
  name: "secret",
  subcommands: ["set", "get", "delete", "list"],
  help: `Usage: cloudtolocalllm-tunnel secret set|get|delete|list [NAME] [--config FILE]

Secrets (the tunnel's agent token, upstream API keys, sign-in tokens) live in the desktop keyring
(freedesktop Secret Service: GNOME Keyring, KWallet, KeePassXC), labelled "CloudToLocalLLM: NAME" with the
attributes application=cloudtolocalllm-tunnel and name=NAME. Without a keyring they go to
$XDG_STATE_HOME/cloudtolocalllm/secrets.json (mode 0600). The config refers to them by NAME.

  secret set NAME      reads the value from stdin (piped, or typed without echo); never pass it as an argument
  secret get NAME      prints the value
  secret delete NAME   removes it
  secret list          prints the names

The environment variable CLOUDTOLOCALLLM_SECRET_<NAME> (upper case, other characters as _) overrides a
stored value when the daemon reads it, e.g. CLOUDTOLOCALLLM_SECRET_TUNNEL_TOKEN for tunnel-token.

Options:
  -c, --config FILE   config file (its [secrets] backend chooses the store)`,
  async run(argv) {
    const { values, positionals } = parse(argv, { config: { type: "string", short: "c" } });
    const [action, name, ...extra] = positionals;
    if (!action) throw new UsageError("missing action: set, get, delete or list.");
    if (!["set", "get", "delete", "list"].includes(action)) throw new UsageError(`unknown action "${action}"${didYouMean(action, ["set", "get", "delete", "list"])}: use set, get, delete or list.`);
    if (action === "list" ? name !== undefined : !name) throw new UsageError(action === "list" ? "list takes no NAME." : `${action} needs a NAME.`);
    if (extra.length) {
      throw new UsageError(action === "set" ? "set takes only NAME; the value is read from stdin so it never shows in the process list." : "too many arguments.");
    }
    if (name) {
      try {
        checkSecretName(name);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const { config } = loadCliConfig(values.config);
    const store = await openSecretStore(config).catch((e) => {
      throw new CliError((e as Error).message);
    });
    try {
      if (store.warning) writeStderrLine(`warning: ${store.warning}`);
      switch (action) {
        case "set": {
          const value = await readValue(name!);
          if (!value) throw new CliError("the value is empty; nothing was stored.");
          await store.set(name!, value);
          writeStderrLine(`Stored "${name}" (${store.backend}).`);
          return 0;
        }
        case "get": {
          const value = await store.get(name!);
          if (value === null) throw new CliError(`no secret named "${name}".`);
          process.stdout.write(value + "\n");
          return 0;
        }
        case "delete": {
          if (!(await store.delete(name!))) throw new CliError(`no secret named "${name}".`);
          writeStderrLine(`Deleted "${name}".`);
          if (store.fromEnv(name!)) writeStderrLine(`note: ${secretEnvVar(name!)} is still set in the environment.`);
          return 0;
        }
        default: {
          for (const n of await store.list()) console.log(n);
          return 0;
        }
      }
    } catch (e) {
      // An error of the table keeps its stable code ([disk_full] for a full disk under the file backend, [keyring_locked]).
      if (e instanceof CliError || e instanceof UsageError || codeInfo(e)) throw e;
      throw new CliError((e as Error).message);
    } finally {
      await store.close();
    }
  },
};
export default command;

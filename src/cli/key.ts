// `key create|list|show|revoke`: the gateway's API keys (printed once at creation, stored only as a hash).
import { CliError, didYouMean, parse, UsageError, type Command } from "./args.ts";
import { KeyStore } from "../gateway/key-store.ts";
import { createKey, keyInfo, parseExpiry, type KeyInfo } from "../gateway/keys.ts";
import { writeStderrLine } from "../core/stderr-line.ts";
import { configPath } from "../config/paths.ts";
import { readClientSettings } from "../client/settings.ts";
import { otherUsersDaemon, whoseDaemon } from "./daemon-api.ts";

/** Two users on one machine: the keys file is this user's, and another user's daemon on the ports never reads it. */
function othersDaemonNote(): string | null {
  const base = readClientSettings(configPath()).base;
  const uid = base ? otherUsersDaemon(base) : null;
  return uid === null ? null : `Note: ${whoseDaemon(base!, uid)}: it does not read this key, which works once your own daemon runs (on ports of its own if that one stays).`;
}

const OPTIONS = {
  models: { type: "string", multiple: true },
  rpm: { type: "string" },
  "tokens-per-day": { type: "string" },
  "max-parallel": { type: "string" },
  expires: { type: "string" },
  "allow-model-management": { type: "boolean" },
  json: { type: "boolean" },
} as const;

function count(value: string | undefined, option: string): number {
  if (value === undefined) return 0;
  // Past 2^53 a number is no longer whole in JSON's reading, and a value too long for a number would be written as null,
  // leaving the keys file unreadable (every later key change refused).
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new UsageError(`--${option} takes a whole number up to ${Number.MAX_SAFE_INTEGER} (0 = no limit), not "${value}".`);
  return Number(value);
}

const limit = (n: number) => (n === 0 ? "-" : String(n));

function describe(k: KeyInfo): string {
  return [
    `name:            ${k.name}`,
    `key:             ${k.prefix}… (shown only when created)`,
    `models:          ${k.models.length ? k.models.join(", ") : "all"}`,
    `requests/minute: ${limit(k.rpm)}`,
    `tokens/day:      ${limit(k.tokens_per_day)}`,
    `max parallel:    ${limit(k.max_parallel)}`,
    `manage models:   ${k.allow_model_management ? "yes" : "no"}`,
    `expires:         ${k.expires_at ?? "never"}`,
    `created:         ${k.created_at}`,
  ].join("\n");
}

function table(keys: KeyInfo[]): string {
  const rows = [["NAME", "KEY", "MODELS", "RPM", "TOKENS/DAY", "PARALLEL", "MANAGE", "EXPIRES"]];
  for (const k of keys)
    rows.push([k.name, `${k.prefix}…`, k.models.join(",") || "all", limit(k.rpm), limit(k.tokens_per_day), limit(k.max_parallel), k.allow_model_management ? "yes" : "no", k.expires_at ?? "never"]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

const command: Command = {
  name: "key",
  subcommands: ["create", "list", "show", "revoke"],
  help: `Usage: cloudtolocalllm-tunnel key create NAME [--models GLOB,...] [--rpm N] [--tokens-per-day N]
                                         [--max-parallel N] [--expires DURATION]
                                         [--allow-model-management] [--json]
       cloudtolocalllm-tunnel key list [--json]
       cloudtolocalllm-tunnel key show NAME [--json]
       cloudtolocalllm-tunnel key revoke NAME

API keys let other machines (and scripts you want to limit) use the broker. Clients send them as
\`Authorization: Bearer c2l_...\` (what the ollama, openai and AI SDK clients do with their api key
setting) or as \`x-api-key\`; a c2l_ key in any other header is checked too, and two different keys
in one request are refused. With [proxy] require_key = "auto" (the default) a caller on this machine
needs none and any other caller does. Model management (pull, push, create, copy, delete, and an unload,
as \`ollama stop\` sends, of a model an upstream's keep_alive keeps loaded) needs a key made with
--allow-model-management. \`create\` prints the key once on stdout; only its sha256 is kept
($XDG_STATE_HOME/cloudtolocalllm/keys.json, mode 0600, the previous version as keys.json.bak). Your running
daemon picks up changes within a second (another user's on the ports never does; create says so).

Options for create:
  --models GLOB,...     models the key may use, e.g. 'llama3*,qwen2.5:*' (default: all)
  --rpm N               requests per minute (default 0: no limit)
  --tokens-per-day N    prompt + completion tokens per UTC day (default 0: no limit)
  --max-parallel N      requests of this key at once (default 0: no limit)
  --expires DURATION    e.g. 90m, 12h, 30d, 2w; at most 5200w (default: never)
  --allow-model-management
                        may pull, push, create, copy and delete models (only those --models allows;
                        with --models, create only from blobs this key uploaded), upload blobs,
                        and unload (\`ollama stop\`) a model an upstream's keep_alive keeps loaded
                        (default: no)
  --json                print the key and its record as JSON`,
  async run(argv) {
    const { values, positionals } = parse(argv, OPTIONS);
    const [action, name, ...rest] = positionals;
    if (rest.length) throw new UsageError(`unexpected "${rest.join(" ")}".`);
    const store = new KeyStore();
    const needName = () => {
      if (!name) throw new UsageError(`key ${action} needs a NAME.`);
      return name;
    };
    switch (action) {
      case "create": {
        let made;
        try {
          made = createKey(needName(), {
            models: (values.models ?? []).flatMap((m) => m.split(",")).filter((m) => m.trim()),
            rpm: count(values.rpm, "rpm"),
            tokens_per_day: count(values["tokens-per-day"], "tokens-per-day"),
            max_parallel: count(values["max-parallel"], "max-parallel"),
            allow_model_management: values["allow-model-management"] === true,
            expiresInMs: values.expires === undefined ? null : parseExpiry(values.expires),
          });
        } catch (e) {
          throw e instanceof UsageError ? e : new UsageError((e as Error).message);
        }
        // A broken keys file or a taken name throws KeyStoreError: main.ts prints it with its code (src/core/error-codes.ts).
        store.add(made.record);
        if (values.json) console.log(JSON.stringify({ key: made.key, ...keyInfo(made.record) }, null, 2));
        else {
          console.log(made.key);
          writeStderrLine(`Created key "${made.record.name}". It is shown only now: store it where the client reads it.`);
        }
        const other = othersDaemonNote();
        if (other) writeStderrLine(other);
        return 0;
      }
      case "list": {
        const keys = store.list().map(keyInfo);
        if (values.json) console.log(JSON.stringify(keys, null, 2));
        else console.log(keys.length ? table(keys) : "no keys (create one with `cloudtolocalllm-tunnel key create NAME`)");
        return 0;
      }
      case "show": {
        const k = store.get(needName());
        if (!k) throw new CliError(noKeyNamed(name, store.list()));
        console.log(values.json ? JSON.stringify(keyInfo(k), null, 2) : describe(keyInfo(k)));
        return 0;
      }
      case "revoke": {
        if (!store.revoke(needName())) throw new CliError(noKeyNamed(name, store.list()));
        writeStderrLine(`Revoked key "${name}"; clients using it get 401 from now on.`);
        return 0;
      }
      default:
        throw new UsageError(action ? `unknown action "${action}"${didYouMean(action, command.subcommands!)}: use create, list, show or revoke.` : "expected create, list, show or revoke.");
    }
  },
};
export default command;

/** A name that is not there: say which names are (a typo, or a key made on another machine), or that there are none. */
function noKeyNamed(name: string | undefined, keys: { name: string }[]): string {
  const names = keys.map((k) => k.name);
  return names.length
    ? `no key named "${name}"; the keys are ${names.map((n) => `"${n}"`).join(", ")} (\`cloudtolocalllm-tunnel key list\` shows them).`
    : `no key named "${name}": there are no keys yet (create one with \`cloudtolocalllm-tunnel key create NAME\`).`;
}

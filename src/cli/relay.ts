// `relay`: runs the self-hostable relay from its own TOML config; `relay hash-token` hashes a token for that config.
import { didYouMean, parse, UsageError, CliError, unreadableFile, type Command } from "./args.ts";
import { logger, logStrayFailures } from "../core/log.ts";

const log = logger("relay");

async function readStdin(): Promise<string> {
  return (await new Response(Bun.stdin.stream()).text()).trim();
}

/**
 * 32 random bytes, base64url, drawn again until the desktop recognises it as a credential (src/config/inline-secrets.ts):
 * pasted straight into [tunnel] token_secret it is then used as the token, and never quoted as the name of a secret to store.
 */
async function newToken(): Promise<string> {
  const { isInlineSecret } = await import("../config/inline-secrets.ts");
  for (;;) {
    const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
    if (isInlineSecret(token)) return token;
  }
}

const command: Command = {
  name: "relay",
  subcommands: ["check", "hash-token"],
  help: `Usage: cloudtolocalllm-tunnel relay --config FILE
       cloudtolocalllm-tunnel relay check --config FILE
       cloudtolocalllm-tunnel relay hash-token [--generate]

Runs the relay: agents (the desktop daemon's tunnel) connect to its WebSocket path with
"Authorization: Bearer TOKEN"; cloud clients call https://RELAY/t/TUNNEL_ID/api/... or /v1/...
with their own key or a JWT, and get streamed responses. See docs/relay.md.

Subcommands:
  check         validate the config file and exit
  hash-token    read a token from stdin and print its sha256 for agent_token_sha256,
                client_key_sha256 or admin_token_sha256 (tokens never go on the command line);
                with --generate, make a random token and print it and its hash

Options:
  -c, --config FILE   relay config (TOML)
  --generate          hash-token: generate a new random token`,
  async run(argv) {
    const { values, positionals } = parse(argv, { config: { type: "string", short: "c" }, generate: { type: "boolean" } });
    const sub = positionals[0];
    if (sub === "hash-token") {
      const { hashToken } = await import("../relay/auth.ts");
      const token = values.generate ? await newToken() : await readStdin();
      if (!token) throw new UsageError("no token on stdin (pipe it in, or use --generate)");
      // With --generate two lines look alike: label both, so the token goes to the agent and the hash to the relay config.
      if (values.generate) {
        console.log(`token: ${token}`);
        console.log(`hash:  ${hashToken(token)}`);
      } else console.log(hashToken(token));
      return 0;
    }
    if (sub !== undefined && sub !== "check") throw new UsageError(`unknown subcommand "${sub}"${didYouMean(sub, ["check", "hash-token"])} (use check or hash-token)`);
    if (!values.config) throw new UsageError("--config FILE is required");
    let text: string;
    try {
      // Bun.file, not node:fs: an idle relay then never loads node:fs (docs/performance.md, Footprint).
      text = await Bun.file(values.config).text();
    } catch (e) {
      throw unreadableFile(values.config, e);
    }
    const { parseRelayConfig, formatIssue, relayMs } = await import("../relay/config.ts");
    const r = parseRelayConfig(text, values.config);
    if (!r.ok) throw new UsageError(r.issues.map(formatIssue).join("\n"));
    if (sub === "check") {
      try {
        const { readRelayTls, checkRelayTls } = await import("../relay/tls-files.ts");
        const pem = await readRelayTls(r.config);
        if (pem) checkRelayTls(r.config, pem);
      } catch (e) {
        throw new CliError((e as Error).message);
      }
      if (r.config.cluster.redis_url) {
        const { readSharedSecret, redisTls } = await import("../relay/cluster/cluster.ts");
        try {
          readSharedSecret(r.config.cluster.shared_secret_file);
        } catch (e) {
          throw new CliError(`cluster.shared_secret_file: ${(e as Error).message}`);
        }
        try {
          redisTls(r.config.cluster);
        } catch (e) {
          throw new CliError((e as Error).message);
        }
      }
      console.log(`${values.config}: ok (${r.config.tunnels.length} tunnel${r.config.tunnels.length === 1 ? "" : "s"}${r.config.cluster.redis_url ? ", cluster node" : ""})`);
      return 0;
    }
    // SIGHUP's default ends the process, and a closed terminal or a reload sends it: the relay does not re-read its
    // config, so it says so and keeps every tunnel up (before start too, which may wait for Redis).
    process.on("SIGHUP", () => log.warn("SIGHUP ignored: the relay does not re-read its config; restart it to apply changes", { config: values.config }));
    // The ways out are set before the start, which may wait for Redis: Bun takes a handler only once back in its event
    // loop, and a SIGTERM then (or right after "relay listening") ended the relay without a word, a stray failure with
    // Bun's stack dump. One that comes during the start stops the relay once it has started.
    let signals = 0;
    let stop!: (reason: string) => void;
    const stopped = new Promise<string>((res) => (stop = res));
    const onSignal = (sig: string) => {
      // A second signal means "now", as for the daemon: the streams' grace is not waited out.
      if (++signals > 1) {
        log.warn(`second ${sig}: stopping now, without waiting for the streams in flight`);
        process.exit(0);
      }
      stop(sig);
    };
    process.on("SIGTERM", () => onSignal("SIGTERM"));
    process.on("SIGINT", () => onSignal("SIGINT"));
    // A stray failure is one log line, not a stack dump; an uncaught exception stops the relay (exit 1).
    logStrayFailures(log, () => stop("error"));
    const { startRelay } = await import("../relay/server.ts");
    let relay;
    try {
      relay = await startRelay(r.config);
    } catch (e) {
      throw new CliError(`the relay cannot start: ${(e as Error).message}`);
    }
    const reason = await stopped;
    log.info("stopping", { reason });
    await Promise.race([relay.stop(), Bun.sleep(relayMs(r.config).go_away_grace + 1000)]);
    return reason === "error" ? 1 : 0;
  },
};
export default command;

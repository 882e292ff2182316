// `dashboard`: opens the running daemon's dashboard in the browser through a one-time sign-in link (no token in the browser).
import { API_HELP, API_OPTIONS, daemonApi, withDaemon } from "./daemon-api.ts";
import { CliError, didYouMean, parse, UsageError, type Command } from "./args.ts";
import { dashboardLink, openInBrowser } from "../client/dashboard-link.ts";
import { writeStderrLine } from "../core/stderr-line.ts";

/** `dashboard approve [CODE]`: approves a waiting access request with the token, or lists the waiting ones. */
async function approve(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, API_OPTIONS);
  if (positionals.length > 1) throw new UsageError(`dashboard approve takes one code, not ${positionals.length}.`);
  const api = daemonApi(values);
  const code = positionals[0];
  if (!code) {
    const r = (await withDaemon(api, (c) => c.call("GET", "/api/v1/dashboard/requests"))) as { requests: { code: string; expiresAt: string }[] };
    if (r.requests.length === 0) console.log("No dashboard access request is waiting.");
    for (const p of r.requests) console.log(`${p.code}  (until ${new Date(p.expiresAt).toLocaleTimeString()})`);
    return 0;
  }
  await withDaemon(api, (c) => c.call("POST", "/api/v1/dashboard/approve", { json: { code } }));
  writeStderrLine(`Approved ${code}: that browser opens the dashboard within a few seconds.`);
  return 0;
}

const command: Command = {
  name: "dashboard",
  help: `Usage: cloudtolocalllm-tunnel dashboard [--print-url] [--url URL] [--config FILE]
       cloudtolocalllm-tunnel dashboard approve [CODE] [--url URL] [--config FILE]

Asks the running daemon, with the API token, for a one-time code and opens
http://127.0.0.1:8765/auth?code=... with xdg-open. The browser trades the code
(single use, valid for about a minute) for an HttpOnly session cookie and lands
on the dashboard; the token itself never reaches the browser or its history.

A browser without a session (a bookmark of http://127.0.0.1:8765/) can press
"Ask for access": its page shows a short code, and a desktop notification names
it. \`dashboard approve CODE\` lets that browser in (codes last two minutes and
work once); without a CODE it lists the requests waiting.

Options:
  --print-url         print the one-time URL instead of opening it (for another browser
                      on this machine; it works once, within a minute)
${API_HELP}`,
  subcommands: ["approve"],
  async run(argv) {
    if (argv[0] === "approve") return approve(argv.slice(1));
    // The only word it takes is "approve": a near miss is named as such, not as "Unexpected argument".
    if (argv[0] && !argv[0].startsWith("-") && didYouMean(argv[0], ["approve"])) throw new UsageError(`unknown subcommand "${argv[0]}"${didYouMean(argv[0], ["approve"])}.`);
    const { values } = parse(argv, { ...API_OPTIONS, "print-url": { type: "boolean" } }, false);
    const api = daemonApi(values);
    const link = await withDaemon(api, (c) => dashboardLink(c));
    if (values["print-url"]) {
      console.log(link.url);
      return 0;
    }
    try {
      await openInBrowser(link.url);
    } catch (e) {
      throw new CliError(`could not open a browser: ${(e as Error).message}. Use --print-url and open the link yourself.`);
    }
    writeStderrLine("Opened the dashboard in your browser.");
    return 0;
  },
};
export default command;

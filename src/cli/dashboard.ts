// `dashboard`: opens the running daemon's dashboard in the browser through a one-time sign-in link (no token in the browser).
import { API_HELP, API_OPTIONS, daemonApi, withDaemon } from "./daemon-api.ts";
import { CliError, parse, type Command } from "./args.ts";
import { dashboardLink, openInBrowser } from "../client/dashboard-link.ts";

const command: Command = {
  name: "dashboard",
  summary: "Open the dashboard in the browser (signs the browser in with a one-time link)",
  help: `Usage: cloudtolocalllm-tunnel dashboard [--print-url] [--url URL] [--config FILE]

Asks the running daemon, with the API token, for a one-time code and opens
http://127.0.0.1:8765/auth?code=... with xdg-open. The browser trades the code
(single use, valid for about a minute) for an HttpOnly session cookie and lands
on the dashboard; the token itself never reaches the browser or its history.

Options:
  --print-url         print the one-time URL instead of opening it (for another browser
                      on this machine; it works once, within a minute)
${API_HELP}`,
  async run(argv) {
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
    console.error("Opened the dashboard in your browser.");
    return 0;
  },
};
export default command;

// Generates the cloudtolocalllm-tunnel(1) man page from the CLI's own command table and --help texts.
import type { CommandEntry } from "./args.ts";

function roff(text: string): string {
  // Escape backslashes, and keep lines that start with . or ' from being read as requests.
  return text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .split("\n")
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join("\n");
}

/**
 * Glyphs of the help texts that groff has no ASCII form of, and what to print instead: `man` in the C locale (a server,
 * `env -i`) renders with -Tascii, where these would be dropped with a troff warning each. UTF-8 terminals keep the glyph.
 */
const ASCII_FALLBACKS: Record<string, string> = { "✓": "+", "✗": "x" };

const fallbacks = Object.entries(ASCII_FALLBACKS).map(([glyph, ascii]) => `.if \\n(.g .fchar \\[u${glyph.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}] ${ascii}`);

export async function manPage(commands: readonly CommandEntry[], version: string, date: Date): Promise<string> {
  const day = date.toISOString().slice(0, 10);
  const out = [
    `.TH CLOUDTOLOCALLLM\\-TUNNEL 1 "${day}" "cloudtolocalllm-tunnel ${version}" "User Commands"`,
    ...fallbacks,
    ".SH NAME",
    "cloudtolocalllm\\-tunnel \\- let every app on the desktop, and the cloud, reach the local LLM",
    ".SH SYNOPSIS",
    ".B cloudtolocalllm\\-tunnel",
    "[\\fICOMMAND\\fR] [\\fIOPTIONS\\fR]",
    ".SH DESCRIPTION",
    "One program with several commands: the daemon (an Ollama\\-compatible broker on 127.0.0.1:11435 in front of",
    "several upstreams, a control API on 127.0.0.1:8765 and an outbound tunnel), the tray icon, the relay that runs on",
    "a server, and tools to configure and install them. Without a command, \\fBserve\\fR runs.",
    ".SH COMMANDS",
  ];
  for (const c of commands) {
    const help = (await c.load()).default.help;
    out.push(".SS " + roff(c.name), roff(c.summary) + ".", ".PP", ".nf", roff(help), ".fi");
  }
  out.push(
    ".SH FILES",
    ".TP",
    ".I $XDG_CONFIG_HOME/cloudtolocalllm/tunnel.toml",
    "The configuration, created with commented defaults on first run.",
    ".TP",
    ".I $XDG_CONFIG_HOME/cloudtolocalllm/api\\-token",
    "The control API token (mode 0600).",
    ".TP",
    ".I /usr/lib/systemd/user/cloudtolocalllm\\-tunnel.service",
    "The systemd user service (after \\fBinstall\\fR: \\fI$XDG_DATA_HOME/systemd/user/cloudtolocalllm\\-tunnel.service\\fR); enable it with \\fBsystemctl \\-\\-user enable \\-\\-now cloudtolocalllm\\-tunnel\\fR.",
    ".SH EXIT STATUS",
    "0 on success, 1 on a runtime failure, 2 on a usage or configuration error.",
    ".SH SEE ALSO",
    ".BR systemctl (1),",
    ".BR ollama (1)",
    "",
  );
  return out.join("\n");
}

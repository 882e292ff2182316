// The files a desktop install consists of (units, desktop entries, icons, metainfo), embedded in the binary.
import tunnelUnit from "../../../systemd/cloudtolocalllm-tunnel.service" with { type: "text" };
import relayUnit from "../../../systemd/cloudtolocalllm-relay.service" with { type: "text" };
import launcherEntry from "../../../packaging/desktop/cloudtolocalllm-tunnel.desktop" with { type: "text" };
import autostartEntry from "../../../packaging/desktop/cloudtolocalllm-tunnel-tray.desktop" with { type: "text" };
import metainfo from "../../../packaging/desktop/io.github.cloudtolocalllm.Tunnel.metainfo.xml" with { type: "text" };
import { encodePng, iconName, ICON_SIZES, renderSvg, TRAY_STATES, type TrayState } from "../icons/index.ts";
// The autostart entry's name lives with the unit's: doctor reads it without loading the files below.
import { AUTOSTART_ENTRY } from "../systemd-user.ts";

/**
 * Where a file goes: each kind maps to one directory (XDG for `install`, FHS for packages, flat for tarballs). The man
 * page and the shell completions are generated from the command table (src/cli/generated-assets.ts), the rest is here.
 */
export type AssetKind = "user-unit" | "system-unit" | "application" | "autostart" | "icon" | "metainfo" | "man" | "completion-bash" | "completion-zsh" | "completion-fish";

export interface Asset {
  kind: AssetKind;
  /** Path relative to the kind's directory, e.g. "hicolor/48x48/apps/cloudtolocalllm-tunnel.png" for icons. */
  name: string;
  content: string | Uint8Array;
}

export const PACKAGED_BINARY = "/usr/bin/cloudtolocalllm-tunnel";
export const SERVICE_UNIT = "cloudtolocalllm-tunnel.service";
/**
 * Units earlier versions installed and this one no longer ships: the tray's own unit (the daemon shows the tray
 * itself now). `install` stops and disables them, so an upgrade never leaves a second process behind.
 */
export const RETIRED_UNITS = ["cloudtolocalllm-tunnel-tray.service"];

let iconCache: Asset[] | null = null;
/** The icons for the hicolor theme: the app icon under apps/, the tray states under status/, SVG and every PNG size. */
export function iconAssets(): Asset[] {
  // Rendering the 256 px PNGs takes a while; the result never changes within one process.
  if (iconCache) return iconCache;
  const out: Asset[] = [];
  const icons: [string, TrayState | undefined][] = [["apps", undefined], ...TRAY_STATES.map((s) => ["status", s] as [string, TrayState])];
  for (const [context, state] of icons) {
    const name = iconName(state);
    out.push({ kind: "icon", name: `hicolor/scalable/${context}/${name}.svg`, content: renderSvg(state) });
    for (const size of ICON_SIZES) out.push({ kind: "icon", name: `hicolor/${size}x${size}/${context}/${name}.png`, content: encodePng(state, size) });
  }
  return (iconCache = out);
}

/**
 * Paths units and desktop entries can hold, quoted where they have a space: systemd refuses quotes and backslashes in an
 * executable's name, GLib does not find a program whose name has "%", "$" and "`" would be expanded, a newline ends
 * the line. Spaces and any other character (a home named after its user, "José Müller") are fine.
 */
export function checkPlainPath(path: string): void {
  if (/["'`$%\\\x00-\x1f\x7f]/.test(path)) throw new Error(`the path ${JSON.stringify(path)} has characters (quotes, a backslash, $, %, a control character) that unit files and desktop entries cannot hold; install from a path without them`);
}

/** Quoted when it has a space or a character a shell treats as special; the text for plain paths is what it always was (a re-install sees no change). */
const quoted = (path: string, q: string) => (/^[A-Za-z0-9._\/+@~:,-]+$/.test(path) ? path : q + path + q);

/** Points a unit's Exec lines at `binary` instead of the packaged /usr/bin path. */
export function rewriteUnit(text: string, binary: string): string {
  checkPlainPath(binary);
  return text.split(PACKAGED_BINARY).join(quoted(binary, '"'));
}

/** Points a desktop entry's Exec/TryExec (also inside the autostart guard) at `binary` instead of a PATH lookup. */
export function rewriteDesktopEntry(text: string, binary: string): string {
  checkPlainPath(binary);
  return text
    .split("\n")
    .map((line) => {
      const key = /^(Try)?Exec=/.exec(line);
      if (!key) return line;
      return line.replace(/(=|\s)cloudtolocalllm-tunnel(?=\s|$)/g, (_m, pre: string, at: number) => {
        // TryExec is a plain string; in Exec, a word of its own is double-quoted, and one inside the `sh -c "…"`
        // argument (an odd number of quotes before it) is a word of that script, single-quoted for sh.
        const inShell = (line.slice(0, at).match(/"/g)?.length ?? 0) % 2 === 1;
        return pre + (key[1] ? binary : quoted(binary, inShell ? "'" : '"'));
      });
    })
    .join("\n");
}

/** Everything that ships besides the binary; `binary` set → paths rewritten for a plain (non-packaged) install. */
export function assets(opts: { binary?: string; relay?: boolean; metainfo?: boolean } = {}): Asset[] {
  const unit = (t: string) => (opts.binary ? rewriteUnit(t, opts.binary) : t);
  const entry = (t: string) => (opts.binary ? rewriteDesktopEntry(t, opts.binary) : t);
  const out: Asset[] = [
    { kind: "user-unit", name: SERVICE_UNIT, content: unit(tunnelUnit) },
    { kind: "application", name: "cloudtolocalllm-tunnel.desktop", content: entry(launcherEntry) },
    { kind: "autostart", name: AUTOSTART_ENTRY, content: entry(autostartEntry) },
  ];
  if (opts.relay !== false) out.push({ kind: "system-unit", name: "cloudtolocalllm-relay.service", content: unit(relayUnit) });
  if (opts.metainfo !== false) out.push({ kind: "metainfo", name: "io.github.cloudtolocalllm.Tunnel.metainfo.xml", content: metainfo });
  return [...out, ...iconAssets()];
}

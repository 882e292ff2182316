// Watches the config file's directory (editors save by renaming a temp file over it) and reloads, debounced, when the file changes.
import { readlinkSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { logger } from "../core/log.ts";
import { resolveLink } from "../config/atomic-write.ts";
import { readConfigText } from "../config/load.ts";
import { openWriter } from "./open-writers.ts";

const log = logger("config");
/** The longest pause between looks at a file a program keeps open for writing (a writer that never closes it). */
const MAX_LOOK_MS = 2000;
/**
 * How long a file a program keeps open for writing must stay unchanged before it is read all the same: some editors
 * and IDEs hold the file open between saves, and without a bound their saves were never applied. A slow writer's
 * pause shorter than this is still waited for.
 */
const HELD_QUIET_MS = 5000;
/** How long a save that dropped a section must stay unchanged before it is read as the whole file. */
const SETTLE_MS = 1000;
/** Starts what read() returns for a file that is there but cannot be read (a NUL never starts a config file's text). */
const UNREADABLE = "\0unreadable:";

export interface ConfigWatcher {
  close(): void;
}

/**
 * Calls `reload` with the file's text once the file has been quiet for `debounceMs` after a change. Events for other
 * files in the directory (editor swap files, backups) are ignored, and so is a save that left the
 * content as it was (e.g. our own atomic write followed by the API's explicit reload) unless that content was rejected.
 */
export function watchConfigFile(
  file: string,
  reload: (text: string | null) => Promise<unknown>,
  opts: { debounceMs?: number; settleMs?: number; heldQuietMs?: number; initialText?: string | null } = {},
): ConfigWatcher {
  const debounceMs = opts.debounceMs ?? 150;
  const heldQuietMs = opts.heldQuietMs ?? HELD_QUIET_MS;
  const settleMs = opts.settleMs ?? SETTLE_MS;
  /** The text; null for a missing file (mid-rename); a marker for one that cannot be read, by its error code. */
  const read = () => {
    try {
      return readConfigText(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === "ENOENT" ? null : `${UNREADABLE}${code}`;
    }
  };
  // The text the running config came from: a save between loading it and setting up the watch still counts.
  let lastText = opts.initialText !== undefined ? opts.initialText : read();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running = Promise.resolve();
  /** The writer waited for, said once per wait; the wait's next look, which grows while the file stays open. */
  let waitingFor: number | null = null;
  let lookMs = debounceMs;
  /** While a writer holds the file: the text it last had, who holds it, since when (monotonic ms), whether the read was logged. */
  let heldText: string | null | undefined;
  let heldBy: number | null = null;
  let heldSince = 0;
  let heldTold = false;
  /** A save that dropped a section, waited on for `settleMs`: read again unchanged after that, it is taken as whole. */
  let settling: string | null = null;
  const fire = () => {
    timer = null;
    if (closed) return;
    // A program still writing the file (`cat > tunnel.toml` typed by hand, `curl … > tunnel.toml` over a slow link) may
    // pause longer than the debounce with a valid first part on disk: nothing is read until it closes the file.
    const writer = openWriter(file);
    if (writer === null) {
      waitingFor = null;
      heldText = undefined;
      lookMs = debounceMs;
    } else {
      // ... but not for ever: a program that keeps the file open (an IDE) and has not changed it for heldQuietMs is
      // done with this save. Nothing new (the running text): nothing to wait for, and no looking until the next event.
      const text = read();
      const now = performance.now();
      if (text !== heldText || writer !== heldBy) [heldText, heldBy, heldSince, heldTold] = [text, writer, now, false];
      if (text === lastText && settling === null) return void (lookMs = debounceMs);
      if (now - heldSince < heldQuietMs) {
        if (waitingFor !== writer) log.info("waiting for the program writing the config file to close it", { file, pid: writer });
        waitingFor = writer;
        lookMs = Math.min(lookMs * 2, MAX_LOOK_MS, Math.max(debounceMs, heldQuietMs - (now - heldSince)));
        timer = setTimeout(fire, lookMs);
        return;
      }
      if (!heldTold) log.info("reading the config file a program keeps open for writing: unchanged for a while", { file, pid: writer, quiet_ms: Math.round(now - heldSince) });
      heldTold = true;
      waitingFor = null;
      lookMs = debounceMs;
    }
    running = running.then(async () => {
      const text = read();
      // A missing file mid-rename, or a save that changed nothing: nothing to do.
      if (text === null) return;
      if (text === lastText) return void (settling = null);
      // A save without a section the running file has may be the first part of a script writing the file in parts,
      // closing it in between (`echo … > tunnel.toml; …; echo … >> tunnel.toml`): no writer is seen then. It is read as
      // the whole file only once it stayed as it is for settleMs (an editor's deletion applies that much later).
      if (text !== settling && dropsSection(lastText, text)) {
        settling = text;
        if (!timer) timer = setTimeout(fire, settleMs);
        return;
      }
      settling = null;
      lastText = text;
      log.debug("config file changed", { file });
      try {
        // The text just compared is the one loaded: no second read that could see a later save. A file that cannot be
        // read (saved by `sudo mv` as root, chmod 000) is handed over as null: the runtime reads it, rejects it and says why.
        const r = await reload(text.startsWith(UNREADABLE) ? null : text);
        // Rejected: the next save is read whatever it holds. The same text again retries (the port it wanted may be free
        // by then), and so does the good text put back, which must clear the rejection (the runtime knows it is running).
        // A file still unreadable is not reported again at each event (a chmod, a touch) until something changes.
        if ((r as { ok?: boolean } | undefined)?.ok === false && lastText === text && !text.startsWith(UNREADABLE)) lastText = null;
      } catch (e) {
        log.error("reload failed", { file, error: e });
      }
    });
  };
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, debounceMs);
  };
  // What is watched, and for which names in it: the file's directory for the file, and that directory's parent for the
  // directory itself (a restore, `git checkout` or dotfile manager may replace the whole directory, and a watch stays with
  // the old one: every later save would go unseen); a symlinked config is usually edited at its target, so the same
  // for the target, and every link on the way to it (a Kubernetes ConfigMap's `..data`, re-pointed while the old
  // generation's directory may stay). Worked out again on each event for one of these names: a re-pointed link is followed.
  const wanted = (): Map<string, Set<string>> => {
    const out = new Map<string, Set<string>>();
    const name = (p: string) => {
      const dir = dirname(p);
      if (dir !== p) out.set(dir, (out.get(dir) ?? new Set<string>()).add(basename(p)));
    };
    const add = (path: string) => {
      name(path);
      name(dirname(path));
    };
    add(file);
    const target = resolveLink(file);
    if (target !== file) add(target);
    for (const link of linksOnTheWay(file)) name(link);
    return out;
  };
  const watchers = new Map<string, { w: FSWatcher; names: Set<string> }>();
  let closed = false;
  /** Watches what `wanted()` names; `renew` is a directory that was replaced, whose old watch is dead. */
  const arm = (renew?: string) => {
    if (closed) return;
    const want = wanted();
    for (const [dir, entry] of watchers)
      if (!want.has(dir) || dir === renew) {
        entry.w.close();
        watchers.delete(dir);
      }
    for (const [dir, names] of want) {
      const have = watchers.get(dir);
      if (have) {
        have.names = names;
        continue;
      }
      const entry = { w: null as unknown as FSWatcher, names };
      try {
        entry.w = watch(dir, { persistent: false }, (_event, filename) => {
          if (filename !== null && !entry.names.has(filename)) return;
          arm(filename === null ? undefined : join(dir, filename));
          schedule();
        });
      } catch (e) {
        // A directory that is not there (yet): the watch of its parent arms this one when it appears.
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") log.warn("cannot watch the config directory; reload with SIGHUP", { dir, error: e });
        continue;
      }
      entry.w.on("error", (e) => log.warn("config watch failed; reload with SIGHUP", { dir, error: e }));
      watchers.set(dir, entry);
    }
  };
  arm();
  log.debug("watching the config file", { file });
  if (read() !== lastText) schedule();
  return {
    close() {
      if (timer) clearTimeout(timer);
      closed = true;
      for (const { w } of watchers.values()) w.close();
    },
  };
}

/** Every symbolic link met on the way from `path` to the file it names, in any of its directories or as the file itself. */
function linksOnTheWay(path: string): string[] {
  const links: string[] = [];
  // `at` holds no link (each one met is replaced by its target), so a target's `..` is resolved as the system does.
  let at = "/";
  let rest = resolve(path).split("/").filter(Boolean);
  for (let hops = 0; rest.length && hops < 40; ) {
    const next = join(at, rest.shift()!);
    let target: string;
    try {
      target = readlinkSync(next);
    } catch {
      // Not a link (or not there): go on below it.
      at = next;
      continue;
    }
    hops++;
    links.push(next);
    rest = [...resolve(at, target).split("/").filter(Boolean), ...rest];
    at = "/";
  }
  return links;
}

/** Whether `after` has fewer of some table header (`[api]`, each `[[upstreams]]`) than `before`, the running file. */
function dropsSection(before: string | null, after: string): boolean {
  if (before === null || before.startsWith(UNREADABLE) || after.startsWith(UNREADABLE)) return false;
  const now = tableHeaders(after);
  for (const [name, n] of tableHeaders(before)) if ((now.get(name) ?? 0) < n) return true;
  return false;
}

function tableHeaders(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^[ \t]*(\[\[?)[ \t]*([^\]\s]+)[ \t]*\]/gm)) {
    const name = m[1] + m[2]!;
    out.set(name, (out.get(name) ?? 0) + 1);
  }
  return out;
}

// Watches the config file's directory (editors save by renaming a temp file over it) and reloads, debounced, when the file changes.
import { watch, readFileSync, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { logger } from "../core/log.ts";
import { resolveLink } from "../config/atomic-write.ts";

const log = logger("config");

export interface ConfigWatcher {
  close(): void;
}

/**
 * Calls `reload` with the file's text once the file has been quiet for `debounceMs` after a change. Events for other
 * files in the directory (editor swap files, backups) are ignored, and so is a save that left the
 * content as it was (e.g. our own atomic write followed by the API's explicit reload) unless that content was rejected.
 */
export function watchConfigFile(file: string, reload: (text: string) => Promise<unknown>, opts: { debounceMs?: number; initialText?: string | null } = {}): ConfigWatcher {
  const debounceMs = opts.debounceMs ?? 150;
  const name = basename(file);
  const read = () => {
    try {
      return readFileSync(file, "utf8");
    } catch {
      return null;
    }
  };
  // The text the running config came from: a save between loading it and setting up the watch still counts.
  let lastText = opts.initialText !== undefined ? opts.initialText : read();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running = Promise.resolve();
  const fire = () => {
    timer = null;
    running = running.then(async () => {
      const text = read();
      // A missing file mid-rename, or a save that changed nothing: nothing to do.
      if (text === null || text === lastText) return;
      lastText = text;
      log.debug("config file changed", { file });
      try {
        // The text just compared is the one loaded: no second read that could see a later save.
        const r = await reload(text);
        // Rejected: the next save is read whatever it holds. The same text again retries (the port it wanted may be free
        // by then), and so does the good text put back, which must clear the rejection (the runtime knows it is running).
        if ((r as { ok?: boolean } | undefined)?.ok === false && lastText === text) lastText = null;
      } catch (e) {
        log.error("reload failed", { file, error: e });
      }
    });
  };
  const schedule = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, debounceMs);
  };
  // A symlinked config is usually edited at its target: watch the target's directory too.
  const target = resolveLink(file);
  const watched = [[dirname(file), name]];
  if (target !== file) watched.push([dirname(target), basename(target)]);
  const watchers: FSWatcher[] = [];
  for (const [dir, base] of watched) {
    try {
      const w = watch(dir!, { persistent: false }, (_event, filename) => {
        if (filename !== null && filename !== base) return;
        schedule();
      });
      w.on("error", (e) => log.warn("config watch failed; reload with SIGHUP", { dir, error: e }));
      watchers.push(w);
    } catch (e) {
      log.warn("cannot watch the config directory; reload with SIGHUP", { dir, error: e });
    }
  }
  log.debug("watching the config file", { file });
  if (read() !== lastText) schedule();
  return {
    close() {
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}

// Watches the keys file's directory, so a change another process wrote (`key revoke` from the CLI) is read at once, not
// at the next key looked up: the requests a revoked key has waiting in the queue are refused then (component.ts).
import { mkdirSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { logger } from "../core/log.ts";
import type { KeyStore } from "./key-store.ts";

const log = logger("gateway");

/** Starts the watch; its stop. Without one (no inotify watch left), keys are still read again at most a second late. */
export function watchKeysFile(store: KeyStore): () => void {
  const dir = dirname(store.file);
  const name = basename(store.file);
  let w: FSWatcher;
  try {
    // The directory of a daemon with no key yet: the CLI's first key is made there.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The directory, not the file: a change is an atomic write, a new file renamed over the old one.
    w = watch(dir, { persistent: false }, (_event, filename) => {
      if (filename === name) store.refresh(true);
    });
  } catch (e) {
    log.debug("the keys file is not watched; a change by another process is read at the next key checked", { file: store.file, error: e as Error });
    return () => {};
  }
  w.on("error", () => w.close());
  return () => w.close();
}

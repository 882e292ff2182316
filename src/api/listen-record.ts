// Where the running daemon's control API really listens, for the CLI: one 0600 file per config file under
// $XDG_RUNTIME_DIR, written at start and on every move, removed at exit. `[api] listen` in the file may say otherwise
// (a reload that moved it was refused: the port was taken), and whatever holds that port must not get the API token.
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { atomicWrite, processAlive, resolveLink } from "../config/atomic-write.ts";
import { appStateDir, runtimeDir } from "../config/paths.ts";
import { pidListensOn } from "../net/listener-owner.ts";

export interface ListenRecord {
  /** The daemon's pid: the CLI trusts the record only while this process holds the listening socket. */
  pid: number;
  /** The control API's base URL, a loopback literal where it listens on loopback or on every address. */
  url: string;
  /** The token file the running config names (a refused reload may have named another one). */
  token_file: string;
  /** The config file the daemon runs on, as an absolute path with links followed. */
  config: string;
}

/** The config file as one name whatever spelled it (a relative --config, a symlinked dotfile). */
export function canonicalConfig(configFile: string): string {
  return resolveLink(resolve(configFile));
}

/** $XDG_RUNTIME_DIR/cloudtolocalllm/api-<hash of the config path>.json; without a runtime dir, under the state dir. */
export function listenRecordFile(configFile: string): string {
  const id = createHash("sha256").update(canonicalConfig(configFile)).digest("hex").slice(0, 16);
  const rt = runtimeDir();
  return join(rt ? join(rt, "cloudtolocalllm") : join(appStateDir(), "run"), `api-${id}.json`);
}

/** Writes the record of this process (atomically, 0600); throws the write's error (the caller logs it: the API works without). */
export function writeListenRecord(configFile: string, rec: Omit<ListenRecord, "pid" | "config">): string {
  const file = listenRecordFile(configFile);
  const body: ListenRecord = { pid: process.pid, url: rec.url, token_file: resolve(rec.token_file), config: canonicalConfig(configFile) };
  atomicWrite(file, JSON.stringify(body) + "\n", 0o600);
  return file;
}

/** Removes the record at exit when it is still this process's (another daemon on the same file may have written its own). */
export function removeListenRecord(configFile: string): void {
  const file = listenRecordFile(configFile);
  try {
    if ((JSON.parse(readFileSync(file, "utf8")) as ListenRecord).pid === process.pid) rmSync(file, { force: true });
  } catch {}
}

/**
 * The record of the daemon running on `configFile`, or null when there is none, it is malformed, or it is not the
 * daemon's any more: its pid gone, or (Linux) no longer the process that holds the listening socket at its address (a
 * daemon killed with SIGKILL leaves its record; another program may hold the port since).
 */
export function readListenRecord(configFile: string): ListenRecord | null {
  let rec: ListenRecord;
  try {
    rec = JSON.parse(readFileSync(listenRecordFile(configFile), "utf8")) as ListenRecord;
  } catch {
    return null;
  }
  if (!rec || !Number.isInteger(rec.pid) || typeof rec.url !== "string" || typeof rec.token_file !== "string" || rec.config !== canonicalConfig(configFile)) return null;
  let port: number;
  try {
    port = Number(new URL(rec.url).port);
  } catch {
    return null;
  }
  if (!port) return null;
  const holds = pidListensOn(rec.pid, port);
  return (holds ?? processAlive(rec.pid)) ? rec : null;
}

// One-line logging to stderr, its format chosen by where it goes (journald, a terminal, a pipe or file); secrets scrubbed and URLs redacted.
import { redactUrlsIn } from "../net/redact-url.ts";
import { stderrIsTTY, writeStderrLine } from "./stderr-line.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
// sd-daemon(3) priority prefixes let journald store the level when stderr goes to the journal.
const SD_PREFIX: Record<LogLevel, string> = { debug: "<7>", info: "<6>", warn: "<4>", error: "<3>" };
// SGR colours per level on a terminal (as `ollama serve` and most CLIs colour them).
const COLOUR: Record<LogLevel, string> = { debug: "\x1b[90m", info: "\x1b[32m", warn: "\x1b[33m", error: "\x1b[31m" };
const DIM = "\x1b[2m";
const CYAN = "\x1b[36m";
const RESET = "\x1b[0m";

/** journal: `<6>info comp: msg k=v`; tty: `15:04:05.123 INFO  comp  msg k=v` (coloured unless NO_COLOR); plain: `2026-…Z info comp: msg k=v`. */
export type LogFormat = "journal" | "tty" | "plain";

export interface LogEntry {
  time: Date;
  level: LogLevel;
  component: string;
  /** Already scrubbed, one line. */
  msg: string;
  /** Already scrubbed `key=value` pairs. */
  fields: [string, string][];
}

const pairs = (e: LogEntry, key: (k: string) => string = (k) => k) => e.fields.map(([k, v]) => ` ${key(k + "=")}${v}`).join("");
const hhmmss = (d: Date) => `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}:${String(d.getSeconds()).padStart(2, "0")}.${String(d.getMilliseconds()).padStart(3, "0")}`;

const FORMATS: Record<LogFormat | "tty-colour", (e: LogEntry) => string> = {
  journal: (e) => `${SD_PREFIX[e.level]}${e.level} ${e.component}: ${e.msg}${pairs(e)}`,
  plain: (e) => `${e.time.toISOString()} ${e.level} ${e.component}: ${e.msg}${pairs(e)}`,
  tty: (e) => `${hhmmss(e.time)} ${e.level.toUpperCase().padEnd(5)} ${e.component.padEnd(8)} ${e.msg}${pairs(e)}`,
  "tty-colour": (e) =>
    `${DIM}${hhmmss(e.time)}${RESET} ${COLOUR[e.level]}${e.level.toUpperCase().padEnd(5)}${RESET} ${CYAN}${e.component.padEnd(8)}${RESET} ${e.msg}${pairs(e, (k) => DIM + k + RESET)}`,
};

export function formatEntry(format: LogFormat, e: LogEntry, colour = false): string {
  return FORMATS[format === "tty" && colour ? "tty-colour" : format](e);
}

/**
 * journald sets JOURNAL_STREAM to the device:inode of the stream it gave the process; a child that inherited the
 * variable but writes elsewhere (the tray's detached daemon writing to its log file) must not claim the journal.
 */
function toJournal(env: NodeJS.ProcessEnv, fd: number): boolean {
  const js = env.JOURNAL_STREAM;
  if (!js) return false;
  try {
    // node:fs only here, under journald: an idle relay otherwise never loads it.
    const st = (require("node:fs") as typeof import("node:fs")).fstatSync(fd, { bigint: true });
    return js === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}


/** The format for a stream: the journal's priorities, a terminal's readable lines, or plain timestamped lines. */
export function chooseFormat(env: NodeJS.ProcessEnv = process.env, stream: { isTTY?: boolean; fd?: number } = { fd: 2, isTTY: stderrIsTTY() }): LogFormat {
  const fd = stream.fd ?? 2;
  if (toJournal(env, fd)) return "journal";
  return stream.isTTY ? "tty" : "plain";
}

let threshold: LogLevel = (process.env.CLOUDTOLOCALLLM_LOG_LEVEL as LogLevel) || "info";
let format: LogFormat = chooseFormat();
let colour = format === "tty" && !process.env.NO_COLOR;
// Synchronously, without process.stderr, and never painted red by console.error on a terminal.
let sink: (line: string) => void = writeStderrLine;
const secrets = new Set<string>();

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}
/** Tests capture log output through this. */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}
/** Tests pick the format through this (it is otherwise chosen once, from stderr, at start). */
export function setLogFormat(f: LogFormat, withColour = false): void {
  format = f;
  colour = withColour;
}
export function logFormat(): LogFormat {
  return format;
}
/** Any string registered here is replaced by "[redacted]" in every log line. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 6) secrets.add(value);
}

const SECRET_KEY = /token|secret|password|authorization|cookie|api[_-]?key/i;

/** JSON of a field's value, or its String() when JSON cannot write it (a cycle, a BigInt): a log call never throws. */
function json(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

function fmtValue(k: string, v: unknown): string {
  if (SECRET_KEY.test(k)) return "[redacted]";
  // An Error without a message (`new TypeError()`, some AbortErrors) is named by its kind: never an empty reason.
  const s = typeof v === "string" ? v : v instanceof Error ? v.message || v.name : json(v);
  // Quoted (JSON-escaped) when it holds a control character too: a value from a client or an upstream (a model name, a
  // status line) must not put a terminal escape sequence into the log of a terminal or the journal.
  return /[\s"=\x00-\x1f\x7f-\x9f]/.test(s ?? "") ? JSON.stringify(s) : String(s);
}

export function scrub(line: string): string {
  for (const s of secrets) if (line.includes(s)) line = line.split(s).join("[redacted]");
  // Credentials and secret query values in any URL a message or field carries (core/redact-url.ts).
  line = redactUrlsIn(line);
  return line.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, "$1[redacted]");
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function logger(component: string): Logger {
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < ORDER[threshold]) return;
    // One line whatever the message holds (a value with a line break is quoted by fmtValue).
    const text = scrub(msg.includes("\n") ? msg.replace(/\r?\n/g, " ") : msg);
    const kv: [string, string][] = [];
    // Each value is scrubbed before any colour could split it, so a secret is found as it was written.
    if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) kv.push([k, scrub(fmtValue(k, v))]);
    sink(formatEntry(format, { time: new Date(), level, component, msg: text, fields: kv }, colour));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/**
 * Stray failures (a rejection nobody handled, an exception nobody caught) as one log line each instead of Bun's stack
 * dump on stderr; `fatal` decides what happens after an uncaught exception (the process is in an unknown state).
 * Runtime warnings too (a deprecated API a dependency calls, a listener leak): Bun writes them as "(node:PID) …" and a
 * second line of advice, and NODE_NO_WARNINGS is read only at start, so they are taken where they are raised.
 */
export function logStrayFailures(log: Logger, fatal: () => void): void {
  process.emitWarning = ((warning: string | Error, type?: string | { type?: string }) => {
    const kind = warning instanceof Error ? warning.name : typeof type === "string" ? type : (type?.type ?? "Warning");
    log.warn("runtime warning", { kind, warning: warning instanceof Error ? warning.message : String(warning) });
  }) as typeof process.emitWarning;
  // A rejection with no reason at all (reject(), reject(null)) says so: a field left out would leave the line without one.
  process.on("unhandledRejection", (e) => log.error("unhandled failure", { error: e ?? String(e) }));
  process.on("uncaughtException", (e) => {
    log.error("unexpected error; stopping", { error: e ?? String(e) });
    fatal();
  });
}

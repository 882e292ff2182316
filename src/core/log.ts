// One-line, journald-friendly logging to stderr: "<level> component: message key=value", secrets scrubbed and URLs redacted.
import { redactUrlsIn } from "../net/redact-url.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
// sd-daemon(3) priority prefixes let journald store the level when stderr goes to the journal.
const SD_PREFIX: Record<LogLevel, string> = { debug: "<7>", info: "<6>", warn: "<4>", error: "<3>" };

let threshold: LogLevel = (process.env.CLOUDTOLOCALLLM_LOG_LEVEL as LogLevel) || "info";
let sink: (line: string) => void = (line) => process.stderr.write(line + "\n");
const secrets = new Set<string>();

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}
/** Tests capture log output through this. */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}
/** Any string registered here is replaced by "[redacted]" in every log line. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 6) secrets.add(value);
}

const SECRET_KEY = /token|secret|password|authorization|cookie|api[_-]?key/i;

function fmtValue(k: string, v: unknown): string {
  if (SECRET_KEY.test(k)) return "[redacted]";
  const s = typeof v === "string" ? v : v instanceof Error ? v.message : JSON.stringify(v);
  return /[\s"=]/.test(s ?? "") ? JSON.stringify(s) : String(s);
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
    let line = `${SD_PREFIX[level]}${level} ${component}: ${msg.includes("\n") ? msg.replace(/\r?\n/g, " ") : msg}`;
    if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${fmtValue(k, v)}`;
    sink(scrub(line));
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
 */
export function logStrayFailures(log: Logger, fatal: () => void): void {
  process.on("unhandledRejection", (e) => log.error("unhandled failure", { error: e }));
  process.on("uncaughtException", (e) => {
    log.error("unexpected error; stopping", { error: e });
    fatal();
  });
}

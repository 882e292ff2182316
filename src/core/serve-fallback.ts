// The last answer of every Bun.serve: a handler that threw anyway is one log line and an answer of the listener's kind, not Bun's.
import type { Logger } from "./log.ts";
import { RepeatLimit } from "./repeat-limit.ts";

/**
 * Bun.serve's `error` hook. Without one, Bun writes a source excerpt and a stack to stderr (several lines, no level, no
 * component) and, unless NODE_ENV=production (the compiled binary too), answers with an HTML page quoting our source
 * and its paths to whoever sent the request. Bun does not say which request it was: the listener is named instead.
 * One cause can fail every request at once (the API's code unreadable at the file limit): one line per message per
 * 10 s, the next one counting the rest (`repeated=N`).
 *
 * Every listener also sets `development: false`. Bun's development mode is on unless NODE_ENV=production, in the
 * compiled binary too; in it, a hook that throws in turn is answered with Bun's HTML page of our source and stack (off:
 * a bare 500), and a handler that returns no Response with a 200 "Welcome to Bun!" page (off: a 204).
 */
export function lastResort(log: Logger, listener: string, answer: () => Response): (e: Error) => Response {
  const lines = new RepeatLimit();
  return (e) => {
    const line = lines.note(e instanceof Error ? e.message : String(e));
    if (line.write) log.error("a request failed", { listener, error: e, repeated: line.repeated || undefined });
    return answer();
  };
}

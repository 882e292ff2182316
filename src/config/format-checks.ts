// The config's string formats as plain predicates, without TypeBox: the generated config checks call them at start-up, and formats.ts registers the same ones with TypeBox.
import { isDuration } from "./duration.ts";
import { splitListen } from "./listen.ts";

function isUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return ["http:", "https:", "ws:", "wss:"].includes(u.protocol) && !!u.hostname;
  } catch {
    return false;
  }
}

function isListen(s: string): boolean {
  try {
    splitListen(s);
    return true;
  } catch {
    return false;
  }
}

// Our own names, so Elysia's formats of the same common names ("duration" is ISO 8601 there) can never shadow them, whichever loads first.
export const FORMATS: Readonly<Record<string, (s: string) => boolean>> = {
  "c2l-duration": isDuration,
  "c2l-listen": isListen,
  "c2l-url": isUrl,
  "c2l-url-or-empty": (s) => s === "" || isUrl(s),
};

/** Whether `value` has the named format, as TypeBox's FormatRegistry answers it (an unknown format fails). */
export function format(name: string, value: string): boolean {
  const f = FORMATS[name];
  return f ? f(value) : false;
}

// String formats the schema uses, registered with TypeBox so one validator checks them everywhere.
import { FormatRegistry } from "@sinclair/typebox";
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
export function registerFormats(): void {
  FormatRegistry.Set("c2l-duration", isDuration);
  FormatRegistry.Set("c2l-listen", isListen);
  FormatRegistry.Set("c2l-url", isUrl);
  FormatRegistry.Set("c2l-url-or-empty", (s) => s === "" || isUrl(s));
}
registerFormats();

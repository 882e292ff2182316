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

export function registerFormats(): void {
  if (!FormatRegistry.Has("duration")) FormatRegistry.Set("duration", isDuration);
  if (!FormatRegistry.Has("listen-address")) FormatRegistry.Set("listen-address", isListen);
  if (!FormatRegistry.Has("url")) FormatRegistry.Set("url", isUrl);
  if (!FormatRegistry.Has("url-or-empty")) FormatRegistry.Set("url-or-empty", (s) => s === "" || isUrl(s));
}
registerFormats();

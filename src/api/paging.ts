// Pages of the API's lists: `limit` items after the cursor `after` (the last item of the page before), in the list's own
// order, as GET /api/v1/requests takes `after` and `limit`. A cursor names a place, not an index: items added or
// removed between two calls neither repeat nor skip the others.
import { HttpError } from "../core/http-error.ts";

/** The most items one page may ask for (as the request inspector's `limit`). */
export const PAGE_MAX = 10_000;

/** The items of `sorted` that come after the cursor (`isAfter` says whether an item does), at most `limit` of them; `more` when some are left. */
export function pageOf<T>(sorted: readonly T[], isAfter: ((item: T) => boolean) | null, limit: number | undefined): { items: T[]; more: boolean } {
  const from = isAfter ? sorted.findIndex(isAfter) : 0;
  const rest = from < 0 ? [] : sorted.slice(from);
  return limit === undefined ? { items: rest, more: false } : { items: rest.slice(0, limit), more: rest.length > limit };
}

/** A cursor for a tuple of strings (a usage row's day, key, model and caller): base64url of its JSON, opaque to callers. */
export function encodeCursor(parts: readonly string[]): string {
  return Buffer.from(JSON.stringify(parts)).toString("base64url");
}

/** The tuple a cursor names; 422 naming `query.after` when it is not one this API made (`n` strings). */
export function decodeCursor(cursor: string, n: number): string[] {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parts = null;
  }
  if (!Array.isArray(parts) || parts.length !== n || !parts.every((p) => typeof p === "string")) {
    const message = "not a cursor of this list (pass the `next` of the page before)";
    throw new HttpError("validation_failed", `query.after: ${message}`, [{ path: "query.after", message }]);
  }
  return parts as string[];
}

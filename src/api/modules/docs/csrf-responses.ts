// Adds the 403 `csrf_failed` answer to every operation of the control API's OpenAPI document where it can happen: a change
// (not GET/HEAD/OPTIONS) on a route that accepts the dashboard's session cookie.
import { CSRF_HEADER } from "../../security/sessions.ts";

type Operation = { security?: Record<string, string[]>[]; responses?: Record<string, { description?: string; [k: string]: unknown }> };
type Doc = { security?: Record<string, string[]>[]; paths?: Record<string, Record<string, Operation>> };

const CHANGES = new Set(["post", "put", "patch", "delete"]);

export const CSRF_FAILED_DESCRIPTION =
  `\`csrf_failed\`: a change made with the dashboard's session cookie needs the session's CSRF token in the \`${CSRF_HEADER}\` ` +
  "header (the dashboard page and Swagger UI opened from a dashboard session send it) and an Origin equal to the API's own. " +
  "Callers with the bearer token never get it.";

const CSRF_FAILED = {
  description: CSRF_FAILED_DESCRIPTION,
  content: {
    "application/json": {
      schema: {
        type: "object",
        properties: { error: { type: "object", properties: { code: { type: "string" }, message: { type: "string" } }, required: ["code", "message"] } },
        required: ["error"],
      },
      example: { error: { code: "csrf_failed", message: `the ${CSRF_HEADER} header is missing or wrong` } },
    },
  },
};

/** Whether an operation's security (or the document's default) lets the session cookie in. */
function takesSession(op: Operation, doc: Doc): boolean {
  return (op.security ?? doc.security ?? []).some((r) => "session" in r);
}

/** Adds 403 csrf_failed in place (idempotent; a 403 the route already lists gets the sentence appended); returns the document. */
export function withCsrfResponses<T extends object>(doc: T): T {
  const d = doc as Doc;
  for (const ops of Object.values(d.paths ?? {})) {
    for (const [method, op] of Object.entries(ops)) {
      if (!CHANGES.has(method) || !op || typeof op !== "object" || !takesSession(op, d)) continue;
      const responses = (op.responses ??= {});
      const existing = responses["403"];
      if (!existing) responses["403"] = CSRF_FAILED;
      else if (!existing.description?.includes("csrf_failed")) existing.description = `${existing.description ?? ""} Or ${CSRF_FAILED_DESCRIPTION}`.trim();
    }
  }
  return doc;
}

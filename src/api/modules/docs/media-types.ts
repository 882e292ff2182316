// The media types of the control API's document as the API reads and answers them: Elysia lists JSON, multipart and
// text for every body and every answer, though a body is read as JSON (and TOML where the route takes text, as
// security/body.ts reads it) and a multipart one is refused 415.
import { takesText } from "../../security/body.ts";

type Json = Record<string, any>;

/** The answers that are text, not JSON: Prometheus' exposition format, and the config file as it is on disk. */
const TEXT_ANSWERS: Record<string, string> = { "/metrics": "text/plain", "/api/v1/config/export": "application/toml" };

/** A text body's schema: the string branch of the route's own, with its example (Swagger UI's editor starts from it). */
const textBody = (s: Json | undefined): Json => {
  const branch = s?.type === "string" ? s : (s?.anyOf ?? []).find((b: Json) => b?.type === "string");
  return { type: "string", description: branch?.description ?? "TOML text", ...(branch?.example !== undefined ? { example: branch.example } : {}) };
};

/** Rewrites `doc` in place (the copy asOpenApi30 made, never the plugin's): each body and answer lists only its real types. */
export function withMediaTypes<T extends object>(doc: T): T {
  for (const [path, item] of Object.entries<Json>((doc as Json).paths ?? {})) {
    for (const op of Object.values<Json>(item)) {
      if (!op || typeof op !== "object") continue;
      const body = op.requestBody?.content;
      if (body) {
        const json = body["application/json"] ?? {};
        // The rule the body parser applies (security/body.ts), read from the route's schema as the document shows it.
        op.requestBody.content = takesText(json.schema)
          ? { "application/json": json, "application/toml": { schema: textBody(json.schema) }, "text/plain": { schema: textBody(json.schema) } }
          : { "application/json": json };
      }
      for (const r of Object.values<Json>(op.responses ?? {})) {
        const json = r?.content?.["application/json"];
        if (!json) continue;
        const type = json.schema?.type === "string" ? (Object.hasOwn(TEXT_ANSWERS, path) ? TEXT_ANSWERS[path]! : "text/plain") : "application/json";
        r.content = { [type]: json };
      }
    }
  }
  return doc;
}

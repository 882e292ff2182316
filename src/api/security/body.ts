// Request bodies under `[api] body_limit`: a declared Content-Length is refused up front, a chunked body is cut off while reading.
import { HttpError } from "../../core/http-error.ts";

function tooLarge(limit: number): HttpError {
  return new HttpError("payload_too_large", `the request body is larger than the limit of ${limit} bytes ([api] body_limit)`);
}

export function checkContentLength(request: Request, limit: number): void {
  const len = request.headers.get("content-length");
  if (len !== null && Number(len) > limit) throw tooLarge(limit);
}

/** Reads the body as text, never buffering more than `limit` bytes. */
export async function readBodyText(request: Request, limit: number): Promise<string> {
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Parses a body by its media type: JSON, or TOML/plain text kept as a string where the route takes text (`textOk`);
 * anything else is 415.
 */
export async function parseBody(request: Request, contentType: string, limit: number, textOk: () => boolean): Promise<unknown> {
  const text = await readBodyText(request, limit);
  if (text === "") return undefined;
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (type === "application/json" || type.endsWith("+json")) {
    try {
      // A byte order mark (Notepad writes one; RFC 8259 §8.1 lets a parser ignore it) is read as TOML reads it: not as
      // an "Unrecognized token" the message cannot show.
      return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (e) {
      throw new HttpError("bad_request", `the body is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (type === "" || type === "text/plain" || type === "application/toml" || type === "text/x-toml") {
    if (!textOk()) throw textForJsonRoute(type);
    return text;
  }
  throw new HttpError("unsupported_media_type", `unsupported Content-Type "${type}": send application/json, application/toml or text/plain`);
}

/** Whether a route's body schema (TypeBox's JSON Schema; none: the route reads any body) takes text such as TOML. */
export function takesText(schema: { type?: unknown; anyOf?: { type?: unknown }[] } | undefined): boolean {
  return !schema || schema.type === "string" || !!schema.anyOf?.some((b) => b.type === "string");
}

/**
 * A body read as text (sent as text/plain, which fetch() picks for a string, or with no Content-Type) for a route that
 * reads a JSON object: said as such, instead of the schema's "name: expected string, found undefined" about the text.
 */
function textForJsonRoute(type: string): HttpError {
  return new HttpError("unsupported_media_type", `this route reads a JSON object: send it with Content-Type: application/json (it came ${type ? `as ${type}` : "without a Content-Type"})`);
}

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

/** Parses a body by its media type: JSON, or TOML/plain text kept as a string; anything else is 415. */
export async function parseBody(request: Request, contentType: string, limit: number): Promise<unknown> {
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
  if (type === "" || type === "text/plain" || type === "application/toml" || type === "text/x-toml") return text;
  throw new HttpError("unsupported_media_type", `unsupported Content-Type "${type}": send application/json, application/toml or text/plain`);
}

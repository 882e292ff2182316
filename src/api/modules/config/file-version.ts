// The config file's version as an HTTP entity tag, and the If-Match check that keeps a script's write from undoing another's.
import { createHash } from "node:crypto";
import { HttpError } from "../../../core/http-error.ts";

/**
 * Strong ETag of the file's bytes as they are on disk (not of the running config): a hand edit the daemon refused still
 * changes it, so a client that read the file before that edit cannot silently overwrite it. No file: the empty text's tag.
 */
export function fileTag(text: string | null): string {
  return `"${createHash("sha256")
    .update(text ?? "")
    .digest("base64url")
    .slice(0, 22)}"`;
}

/**
 * RFC 9110 §13.1.1: `If-Match: *` passes when the file exists; otherwise one of the listed tags must be the file's
 * (weak tags never match: the comparison is strong). No header: the write goes ahead, as before (last writer wins).
 */
export function checkIfMatch(header: string | null | undefined, text: string | null, file: string): void {
  if (header === null || header === undefined) return;
  const value = header.trim();
  if (value === "*") {
    if (text !== null) return;
    throw new HttpError("precondition_failed", `If-Match: * but ${file} does not exist yet; send the write without If-Match to create it`);
  }
  const current = fileTag(text);
  const listed = value.split(",").map((t) => t.trim());
  if (listed.includes(current)) return;
  throw new HttpError(
    "precondition_failed",
    `${file} changed since you read it (If-Match: ${listed.join(", ").slice(0, 200)}; the file is now ${current}): ` +
      "GET /api/v1/config again (its ETag header is the file's version), apply your change to it and send it with that ETag",
  );
}

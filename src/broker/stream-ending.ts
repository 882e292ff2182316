// Whether a native generation stream ended with its last line or event, read once from its tail when it ends.
//
// Ollama's NDJSON ends with a line whose "done" is true (or an error line), an OpenAI-compatible stream with
// `data: [DONE]` (or an error event of its own); a stream that ends cleanly without them (a proxy between the broker and
// the upstream closed it mid-answer) is not a whole answer. The ollama npm client notices a missing done line itself;
// the openai client and others take what came for the whole answer. The Messages and Responses streams have their own
// check (dialects/usage-watcher.ts), and a translated stream its translator's.
import type { StreamFormat } from "../core/http-error.ts";

const dec = new TextDecoder();

function parses(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

/** Why the stream is cut short (the message of the error added to it), or null when it ended as its format ends. */
export function streamCutShort(format: StreamFormat, tail: Uint8Array): string | null {
  if (format === "other") return null;
  // A 200 with an empty stream (a proxy that ended it at once): the openai client would take it for an empty answer.
  if (tail.byteLength === 0) return "the upstream ended the stream without sending anything; the answer is empty";
  const text = dec.decode(tail).trimEnd();
  if (format === "ndjson") {
    // The last line, when the tail holds its start (a token line is short; a done line with a long context may not fit).
    const at = text.lastIndexOf("\n");
    if (at < 0 && tail.byteLength >= 1024) return null;
    // Negative evidence only: a last line that says the answer goes on,
    const last = text.slice(at + 1);
    if (/"done"\s*:\s*false/.test(last)) return 'the upstream ended the stream before its last line (no "done": true); the answer is incomplete';
    // or one cut in its middle (every line is a whole JSON object; the ollama client said only "Did not receive done").
    return parses(last) ? null : "the upstream ended the stream in the middle of a line; the answer is incomplete";
  }
  const last = text.slice(text.lastIndexOf("\n\n") + 1);
  if (/^data: ?\[DONE\]\s*$/m.test(last) || last.includes('"error"')) return null;
  // A server that leaves [DONE] out still names why its answer ended (as the translations read it, chat-stream-translator.ts).
  if (/"finish_reason"\s*:\s*"/.test(text)) return null;
  // llama.cpp's own /completion ends with an event whose "stop" is true, and no [DONE].
  if (/"stop"\s*:\s*true/.test(last)) return null;
  // LM Studio's own chat ends with its chat.end event (the whole answer), and no [DONE].
  if (/^event: ?chat\.end\s*$/m.test(last)) return null;
  return "the upstream ended the stream before its last event (no data: [DONE]); the answer is incomplete";
}

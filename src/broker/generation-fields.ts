// The top-level fields of a generation request the broker and the gateway act on besides its model, read once as every upstream reads them, or the 400 for a body they would read differently.
//
// Why: the broker decides from these fields how it reads and counts the answer (stream, stream_options), and the
// gateway how much of a key's daily budget the request holds (the generation limits, n, best_of, Ollama's options).
// The upstream reads them again with its own parser: Ollama (Go's encoding/json) takes a key without case and the last
// of several; vLLM (Python json + pydantic) and llama.cpp (nlohmann) only the exact name. A body that names one of these
// fields twice, or in another spelling, therefore has no one reading, and is refused as the model is
// (model-fields.ts): {"max_tokens":600,"MAX_TOKENS":100000} would hold 600 and generate 100000 on Ollama.
import { HttpError } from "../core/http-error.ts";
import { readTopLevel, type FieldRead } from "./json-top-level.ts";

/**
 * The fields, in lower case. `options` is Ollama's (its num_predict is read inside it: a Go map, exact keys, the last
 * duplicate winning, as JSON.parse reads it too).
 */
export const ACTED_FIELDS: readonly string[] = [
  "stream",
  "stream_options",
  "options",
  "max_tokens",
  "max_completion_tokens",
  "max_output_tokens",
  "n_predict",
  "num_predict",
  "n",
  "best_of",
];

/**
 * Throws a 400 HttpError when `head` (the body, or the part of it in memory) names one of ACTED_FIELDS twice or in
 * another spelling, or gives "stream" as a string. A body that is not a JSON object, or not valid JSON, is left to the
 * model check and the upstream. (The broker runs checkActed on the model check's own reading: one pass per body.)
 */
export function checkActedFields(head: Uint8Array | null): void {
  if (head === null || head.byteLength === 0) return;
  const read = readTopLevel(head, ACTED_FIELDS);
  if (read.kind === "object") checkActed(read.fields, 0);
}

/** The same check on fields read by readTopLevel with ACTED_FIELDS from index `from` of its names. */
export function checkActed(fields: readonly FieldRead[], from: number): void {
  for (let k = 0; k < ACTED_FIELDS.length; k++) {
    const f = fields[from + k]!;
    const name = ACTED_FIELDS[k]!;
    if (f.variants.length > 0)
      throw new HttpError("bad_request", `the request body names "${name}" also as ${f.variants.map((v) => JSON.stringify(v)).join(", ")}; upstreams differ in which one they read (Ollama ignores case, others do not), so send it once, spelled "${name}"`);
    if (f.exact > 1) throw new HttpError("bad_request", `the request body has "${name}" ${f.exact} times; upstreams differ in which one they read, so send it once`);
  }
  // A stream given as a string ("false"): Ollama refuses it, vLLM reads "false" as false and "true" as true, llama.cpp
  // either as false, and the broker's translation of an Ollama request as true. (Other non-booleans: sse-usage.ts.)
  const stream = fields[from + STREAM]!.value;
  if (typeof stream === "string") throw new HttpError("bad_request", notBoolean(JSON.stringify(stream)));
}

const STREAM = ACTED_FIELDS.indexOf("stream");

/** The 400's message for a "stream" that is not a boolean (`shown`: the value as JSON). */
export const notBoolean = (shown: string) =>
  `"stream" in the request body must be true or false, not ${shown}: upstreams read it differently (vLLM as true, llama.cpp as false, Ollama refuses it)`;

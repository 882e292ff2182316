// The models a request names, decided as the upstream reads its body (json-top-level.ts), or the 400 for a body that names them ambiguously.
import { HttpError } from "../core/http-error.ts";
import { modelFields, pathModel, type NamedBlob } from "../core/model-routes.ts";
import { ACTED_FIELDS, checkActed } from "./generation-fields.ts";
import { NOT_A_STRING, readTopLevel, type FieldRead } from "./json-top-level.ts";

export interface RequestModels {
  /** The model the route acts on (routing, aliases, usage), null when the body names none, undefined on a route that names none (blobs). */
  model: string | null | undefined;
  /** The field it came from ("model", "name", "source"): an alias applies only to "model", the field it rewrites. */
  field: string | null;
  /** The other models the request touches (copy's destination, create's base model), each checked like `model`. */
  others: string[];
  /** A field whose text names models the broker does not read (an old /api/create's "modelfile"), or null. */
  opaque: string | null;
  /** Whether the whole body was read: false for a body too large to hold, of which only a head was looked at. */
  complete: boolean;
  /** The blobs the body builds a model from (an /api/create's `files`, `adapters`, `draft_files`), each as sent. */
  blobs: readonly NamedBlob[];
}

/** Most bodies name one model: one shared (frozen) empty list rather than one per request. */
const NO_OTHERS = Object.freeze([]) as unknown as string[];
const NO_BLOBS: readonly NamedBlob[] = Object.freeze([]);
const NONE: RequestModels = { model: null, field: null, others: [], opaque: null, complete: true, blobs: NO_BLOBS };
const NONE_INCOMPLETE: RequestModels = { ...NONE, complete: false };
const NO_MODEL_ROUTE: RequestModels = { ...NONE, model: undefined };

/** On a generation route, "model" and the fields the broker acts on (generation-fields.ts), read in one pass into one reused set. */
const MODEL_AND_ACTED: readonly string[] = ["model", ...ACTED_FIELDS];
const SCRATCH: FieldRead[] = MODEL_AND_ACTED.map(() => ({ exact: 0, variants: [], value: undefined }));

/**
 * What `head` (the body, or the part of it in memory when `complete` is false) names on `path`. Throws a 400 HttpError
 * for a body whose answer depends on the upstream's parser: a field named twice, or in another spelling of its name
 * (case, or a character Go folds onto a letter), a non-string model, or a JSON object that does not parse. `generation`:
 * the route generates, and the fields the broker acts on besides the model are checked in the same pass (checkActed).
 */
export function requestModels(path: string, head: Uint8Array | null, complete: boolean, generation = false): RequestModels {
  const inPath = pathModel(path);
  if (inPath !== null) {
    if (inPath.length > MAX_MODEL_NAME) throw new HttpError("bad_request", `the model name in the path is ${inPath.length} characters long; a model name has at most ${MAX_MODEL_NAME}`);
    return { model: inPath, field: null, others: NO_OTHERS, opaque: null, complete: true, blobs: NO_BLOBS };
  }
  const spec = modelFields(path);
  if (spec.all.length === 0) return NO_MODEL_ROUTE;
  if (head === null || head.byteLength === 0) return complete ? NONE : NONE_INCOMPLETE;
  const acted = generation && spec.all.length === 1 && spec.all[0] === "model";
  const read = acted ? readTopLevel(head, MODEL_AND_ACTED, SCRATCH) : readTopLevel(head, spec.all);
  if (read.kind === "not-object") return complete ? NONE : NONE_INCOMPLETE;
  if (read.kind === "invalid") {
    if (complete) throw new HttpError("bad_request", `the request body is not valid JSON (${read.reason} at byte ${read.at})`);
    return NONE_INCOMPLETE;
  }
  // The whole body was given and its object never ends: JSON no upstream parses (Go: "unexpected EOF"), not a body too
  // large to read whole.
  if (complete && !read.complete) throw new HttpError("bad_request", "the request body is not valid JSON (it ends inside its object)");
  const fields = read.fields;
  const names = spec.all;
  for (let k = 0; k < names.length; k++) check(names[k]!, fields[k]!);
  if (acted) checkActed(fields, names.length);
  let model: string | null = null;
  let field: string | null = null;
  let others: string[] | null = null;
  let opaque: string | null = null;
  const acts = spec.acts.length;
  const named = acts + spec.also.length;
  for (let k = 0; k < names.length; k++) {
    const v = fields[k]!.value;
    if (typeof v !== "string" || v === "") continue;
    if (k >= named) opaque ??= names[k]!;
    else if (v.length > MAX_MODEL_NAME)
      throw new HttpError("bad_request", `"${names[k]}" in the request body is ${v.length} characters long; a model name has at most ${MAX_MODEL_NAME}`);
    else if (k < acts && model === null) {
      model = v;
      field = names[k]!;
    } else if (v !== model) (others ??= []).push(v);
  }
  const blobs = spec.blobs.length > 0 && complete && read.complete ? blobsNamed(head, spec.blobs) : NO_BLOBS;
  return { model, field, others: others ?? NO_OTHERS, opaque, complete: read.complete, blobs };
}

/**
 * The digests the maps in `names` hold (Go reads each into a map[string]string: `{"model.gguf": "sha256:…"}`), from a
 * whole body that readTopLevel has read as an object. Each field must be named once, in one spelling (400, as for the
 * model fields: Go ignores case, the last one winning); its value is then read with JSON.parse (only on the routes
 * that have such fields: model management, not the hot path). A value that is no map of strings is kept as its JSON,
 * which names no blob: the upstream refuses it anyway, and a key with a model list is refused it here.
 */
function blobsNamed(head: Uint8Array, names: readonly string[]): readonly NamedBlob[] {
  const read = readTopLevel(head, names);
  if (read.kind !== "object") return NO_BLOBS;
  let any = false;
  for (let k = 0; k < names.length; k++) {
    const f = read.fields[k]!;
    if (f.variants.length > 0 || f.exact > 1) check(names[k]!, f);
    if (f.value !== undefined && f.value !== null) any = true;
  }
  if (!any) return NO_BLOBS;
  let body: Record<string, unknown> | null = null;
  try {
    body = JSON.parse(Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString("utf8")) as Record<string, unknown>;
  } catch {}
  const out: NamedBlob[] = [];
  for (const field of names) {
    const v = body === null ? "(unreadable)" : body[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== "object" || Array.isArray(v)) out.push({ field, digest: JSON.stringify(v) });
    else for (const d of Object.values(v as Record<string, unknown>)) out.push({ field, digest: typeof d === "string" ? d : JSON.stringify(d) });
  }
  return out;
}

/**
 * The longest model name read from a body: Ollama's names are at most a few hundred characters (host, namespace, model
 * and tag each bounded), OpenAI-compatible servers' a repository path. A longer one names no model any upstream has, and
 * it would be kept (the request's record, the inspector, usage) long after its body was given back.
 */
export const MAX_MODEL_NAME = 1024;

function check(name: string, f: FieldRead): void {
  if (f.variants.length > 0)
    throw new HttpError("bad_request", `the request body names "${name}" also as ${f.variants.map((v) => JSON.stringify(v)).join(", ")}; upstreams differ in which one they read (Ollama ignores case, others do not), so send it once, spelled "${name}"`);
  if (f.exact > 1) throw new HttpError("bad_request", `the request body has "${name}" ${f.exact} times; upstreams differ in which one they read, so send it once`);
  if (f.value === NOT_A_STRING) throw new HttpError("bad_request", `"${name}" in the request body must be a string`);
}

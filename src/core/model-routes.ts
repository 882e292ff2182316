// Ollama's routes as data for who-may-do-what: which routes manage models, and which top-level body fields name a model on each.

/**
 * The route an upstream will serve for `path` (no query), for deciding what a request may do: percent-escapes decoded
 * as Go's net/url (and Python's and cpp-httplib's servers) decode them before routing, so "/api/%63opy" is "/api/copy",
 * and cpp-httplib's (llama.cpp's) "%uXXXX" too, so "/models/%u006coad" is "/models/load" (its decode_path_component
 * reads four hex digits after "%u" as a character; Go refuses such a path, uvicorn keeps it as it is); then, stricter
 * than any of them, repeated slashes collapsed, a trailing slash dropped and letters lower-cased, so no spelling of a
 * route escapes the rules for it. (Bun has already resolved dot segments and backslashes in req.url; those that only
 * decoding reveals are resolved here, and so are those of a path that never went through a URL parser.) One pass, as
 * each of those servers decodes once: "%2575" is "%75", not "u". The broker and the tunnel's filter both decide on it.
 */
const UNUSUAL_PATH = /[%A-Z]|\/\/|\/\.|.\/$/;
const ESCAPE = /%(?:u([0-9a-fA-F]{4})|([0-9a-fA-F]{2}))/g;
export function routeOf(path: string): string {
  if (!UNUSUAL_PATH.test(path)) return path;
  let p = path.replace(ESCAPE, (_, u: string | undefined, h: string | undefined) => String.fromCharCode(parseInt((u ?? h)!, 16)));
  p = p.replace(/\/+/g, "/").toLowerCase();
  // Bun resolved the dot segments it saw, but not one spelled with an escaped slash ("/api/chat/..%2fpull"): after
  // decoding it is "/api/chat/../pull", which Go's ServeMux (in front of Ollama's router) cleans to /api/pull.
  if (DOT_SEGMENT.test(p)) p = withoutDotSegments(p);
  return withoutTrailingSlash(p);
}
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

/**
 * `path` without its trailing slashes ("/" stays): what routeOf drops, and what the broker drops from a path it sends
 * upstream (src/broker/route-target.ts), as gin and starlette redirect a trailing slash to the path without it.
 */
export function withoutTrailingSlash(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47 /* / */) end--;
  return end === path.length ? path : path.slice(0, end);
}

/**
 * The route a ";…" parameter follows ("/api/chat;x" is after /api/chat), or null when the path has none. Go's net/http,
 * starlette and cpp-httplib all keep the parameter in the path (each answers 404), so such a path is no route; the
 * broker and the tunnel's agent say so naming the route to use (noRouteMessage), rather than pass it on or call it
 * forbidden.
 */
export function routeBeforeParams(path: string): string | null {
  const semi = path.indexOf(";");
  return semi > 0 ? routeOf(path.slice(0, semi)) : null;
}

/** The one sentence for a ";…" parameter after `route` (routeBeforeParams), on the broker's port and through the tunnel. */
export function noRouteMessage(path: string, route: string): string {
  return `${JSON.stringify(path)} is no route: every upstream reads ";…" as part of the path; use ${route}`;
}

/** "/a/b/../c/./d" is "/a/c/d" (RFC 3986 §5.2.4); ".." above the root stays at the root, as Go's path.Clean has it. */
function withoutDotSegments(path: string): string {
  const out: string[] = [];
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    if (seg === "..") out.pop();
    else if (seg !== ".") out.push(seg);
  }
  const last = parts[parts.length - 1];
  return "/" + out.join("/") + (last === "." || last === ".." ? "/" : "");
}

/**
 * The routes that act on the machine's ollama.com account: who it is, signing it out, its keys, and the web search and
 * fetch it pays for; and Ollama's profiler (/debug/pprof: its memory and goroutines). A key needs
 * allow_model_management for them as for the rest below, but [tunnel] allow_model_management does not open them to the
 * cloud (pulling models is what it is for): through the tunnel they pass only when [tunnel] allowed_paths names them.
 */
const ACCOUNT_PATHS = ["/api/me", "/api/signout", "/api/user/keys", "/api/experimental/web_search", "/api/experimental/web_fetch", "/debug"];

/**
 * Model management: needs [tunnel] allow_model_management through the tunnel, and a key's allow_model_management.
 * Ollama's routes (with those of the machine's ollama.com account: who it is, signing it out), and the other kinds'
 * own: llama.cpp's router mode loads and unloads models, LM Studio's v1 REST API also downloads them, and vLLM (with
 * VLLM_ALLOW_RUNTIME_LORA_UPDATING) loads a LoRA adapter from any path it names, and (in its development mode) sleeps.
 */
export const MODEL_MANAGEMENT_PATHS = [
  "/api/pull", "/api/push", "/api/create", "/api/copy", "/api/delete", "/api/blobs",
  ...ACCOUNT_PATHS,
  "/models/load", "/models/unload",
  "/api/v1/models/load", "/api/v1/models/unload", "/api/v1/models/download",
  "/v1/load_lora_adapter", "/v1/unload_lora_adapter",
  // vLLM's development routes (VLLM_SERVER_DEV_MODE=1): releasing and reloading the weights, the prefix cache, the
  // profiler, and an RPC to every worker.
  "/sleep", "/wake_up", "/reset_prefix_cache", "/start_profile", "/stop_profile", "/collective_rpc",
];

/** Whether `path` (no query) is one of the ollama.com account's routes, or under one. */
export function isAccountRoute(path: string): boolean {
  for (const a of ACCOUNT_PATHS) if (path === a || path.startsWith(a + "/")) return true;
  return false;
}

/**
 * Routes whose GET lists and whose other methods manage: llama.cpp's router lists its models on GET /models, downloads
 * one from Hugging Face on POST /models and deletes one from its cache on DELETE /models?model=… (the model in the query).
 */
const MANAGEMENT_UNLESS_READ = "/models";

/**
 * Whether `path` (no query) is a model-management route, or under one (/api/blobs/sha256:…). With `method`, a route
 * that only reads on GET (MANAGEMENT_UNLESS_READ) is management for the other methods.
 */
export function isModelManagement(path: string, method?: string): boolean {
  if (method !== undefined && path === MANAGEMENT_UNLESS_READ && method !== "GET" && method !== "HEAD") return true;
  // One character decides for most other paths: the second of every route on the list.
  if (!FIRST_CHARS.has(path.charCodeAt(1))) return false;
  for (let i = 0; i < MODEL_MANAGEMENT_PATHS.length; i++) if (path === MODEL_MANAGEMENT_PATHS[i] || path.startsWith(MANAGEMENT_PREFIXES[i]!)) return true;
  return false;
}
const MANAGEMENT_PREFIXES = MODEL_MANAGEMENT_PATHS.map((m) => m + "/");
const FIRST_CHARS = new Set(MODEL_MANAGEMENT_PATHS.map((m) => m.charCodeAt(1)));

/**
 * The top-level fields that name a model, per route (Ollama's api/types.go). `acts` in order: the first non-empty one
 * is the model the route acts on, as Ollama's cmp.Or(req.Model, req.Name) picks it (`name` is the older spelling);
 * `also`: other models the request touches (copy's destination, create's base model). Every route not listed reads
 * `model` alone (chat, generate, embed, and the OpenAI-compatible /v1 routes).
 */
export interface ModelFields {
  acts: readonly string[];
  also: readonly string[];
  /** Fields of older Ollama versions that name models inside text the broker does not read (a Modelfile's FROM line). */
  opaque: readonly string[];
  /** `acts`, `also`, then `opaque`: every field to read. */
  all: readonly string[];
  /**
   * Fields that map file names to blob digests (`{"model.gguf": "sha256:…"}`): the weights the route builds a model
   * from, named by digest rather than by model, so a key with a model list may name only blobs it uploaded itself.
   */
  blobs: readonly string[];
}

const NO_BLOBS: readonly string[] = [];
const fields = (acts: string[], also: string[] = [], opaque: string[] = [], blobs: readonly string[] = NO_BLOBS): ModelFields => ({ acts, also, opaque, all: [...acts, ...also, ...opaque], blobs });
const MODEL_ONLY = fields(["model"]);
const MODEL_OR_NAME = fields(["model", "name"]);

const BY_PATH: ReadonlyMap<string, ModelFields> = new Map([
  ["/api/copy", fields(["source"], ["destination"])],
  // Ollama's CreateRequest: `from` names a model; `files`, `adapters` and `draft_files` name blobs by digest (any blob
  // on the machine: a model's weights too, whose digests are public), so they are read as well.
  ["/api/create", fields(["model", "name"], ["from"], ["modelfile", "path"], ["files", "adapters", "draft_files"])],
  ["/api/pull", MODEL_OR_NAME],
  ["/api/push", MODEL_OR_NAME],
  ["/api/delete", MODEL_OR_NAME],
  ["/api/show", MODEL_OR_NAME],
  // The account routes act on no model: a key with the permission and a model list is not refused for naming none.
  ["/api/me", fields([])],
  ["/api/signout", fields([])],
  // LM Studio unloads an instance (its model's key, or "key:2" for a second instance); vLLM names an adapter.
  ["/api/v1/models/unload", fields(["instance_id"])],
  ["/v1/load_lora_adapter", fields(["lora_name"])],
  ["/v1/unload_lora_adapter", fields(["lora_name"])],
  // GET only in Ollama (no request type in api/types.go): whatever a body names, these act on no model. Clients check
  // them before anything else (Open WebUI reads /api/version, others "Ollama is running" on /), so a key limited to
  // some models must pass them.
  ["/", fields([])],
  ["/api/version", fields([])],
]);

/** A blob upload names no model (its digest is in the path; /api/create names the models that use it). */
const NO_MODEL = fields([]);

/**
 * The model a route names in its path, or null: OpenAI's model retrieval, `GET /v1/models/{model}` (Ollama serves it as
 * /api/show of that model). Its body, if any, is not read by the upstream, so the path is what a key's list is checked on.
 */
export function pathModel(route: string): string | null {
  return route.startsWith(MODEL_RETRIEVE) && route.length > MODEL_RETRIEVE.length ? route.slice(MODEL_RETRIEVE.length) : null;
}
const MODEL_RETRIEVE = "/v1/models/";

/**
 * A blob's digest as Ollama's manifest.BlobsPath takes it ("sha256:" or "sha256-", then 64 hex digits of either case),
 * written one way ("sha256:" and lower case), or null for what names no blob. Blobs are files named by digest, so two
 * spellings of one digest are one blob (on a case-insensitive file system the case does not tell them apart either).
 */
export function blobDigest(s: string): string | null {
  return BLOB_DIGEST.test(s) ? "sha256:" + s.slice(7).toLowerCase() : null;
}
const BLOB_DIGEST = /^sha256[:-][0-9a-fA-F]{64}$/;

/** A blob a request body names: the field, and the digest as sent (or the JSON of a value that is no digest string). */
export interface NamedBlob {
  field: string;
  digest: string;
}

/** The blob routes (Ollama's `HEAD` and `POST /api/blobs/:digest`): the digest in the path, as sent. */
export const BLOB_ROUTE = "/api/blobs/";

export function modelFields(path: string): ModelFields {
  return BY_PATH.get(path) ?? (path.startsWith(BLOB_ROUTE) ? NO_MODEL : MODEL_ONLY);
}

// GET /v1/models and /v1/models/{id} in Anthropic's shape (its List and Get Models APIs: ModelInfo entries, cursor pages) for an Anthropic caller.

/**
 * One model as Anthropic's API lists it (its ModelInfo). What no upstream tells (capabilities, limits, a model line,
 * a retirement) is null, as the API writes a field it does not know; every listed model is active.
 */
export interface AnthropicModelInfo {
  type: "model";
  id: string;
  display_name: string;
  created_at: string;
  capabilities: null;
  deprecated_at: null;
  lifecycle: "active";
  line: null;
  max_input_tokens: null;
  max_tokens: null;
  retires_at: null;
}

export interface AnthropicModelPage {
  data: AnthropicModelInfo[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

/**
 * Whether a GET /v1/models comes from an Anthropic client: its API requires `anthropic-version` on every request and
 * every Anthropic SDK sends it; OpenAI's clients never do. (The route is the same, so the shape is told by the header.)
 */
export const wantsAnthropicList = (headers: Headers): boolean => headers.has("anthropic-version");

const ONE_MODEL = "/v1/models/";

/**
 * The model id of a GET /v1/models/{id} (the SDKs' `models.retrieve`) on `route` (routeOf of `path`), decoded from
 * `path` (the route is lower-cased; an id is not), else null.
 */
export function oneModelId(route: string, path: string): string | null {
  if (!route.startsWith(ONE_MODEL) || route.length === ONE_MODEL.length) return null;
  const at = path.toLowerCase().indexOf("/models/");
  try {
    return decodeURIComponent(path.slice(at + "/models/".length));
  } catch {
    return null;
  }
}

/** Anthropic's page size when `limit` is not given, and its bounds. */
const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 1000;

/**
 * The merged OpenAI-shaped entries (`id`, `created` in seconds) as Anthropic's page, read as its API reads `limit`,
 * `after_id` and `before_id`: the SDK's auto-pagination (`for await … of models.list()`) follows `has_more` and
 * `last_id`. The broker has no display name, so the id is it; no creation date is the epoch.
 */
export function anthropicModelList(entries: readonly Record<string, unknown>[], query: URLSearchParams): AnthropicModelPage {
  const all = entries.map(anthropicModelInfo);
  const n = Number(query.get("limit") ?? DEFAULT_LIMIT);
  const limit = Number.isInteger(n) ? Math.min(MAX_LIMIT, Math.max(1, n)) : DEFAULT_LIMIT;
  const after = query.get("after_id");
  const before = query.get("before_id");
  let page: AnthropicModelInfo[];
  let hasMore: boolean;
  if (before !== null) {
    const end = all.findIndex((m) => m.id === before);
    const upTo = end < 0 ? 0 : end;
    page = all.slice(Math.max(0, upTo - limit), upTo);
    hasMore = upTo - limit > 0;
  } else {
    const start = after === null ? 0 : all.findIndex((m) => m.id === after) + 1;
    // An after_id no longer listed (a model removed between pages) ends the listing rather than starting it over.
    page = after !== null && start === 0 ? [] : all.slice(start, start + limit);
    hasMore = after !== null && start === 0 ? false : start + limit < all.length;
  }
  return { data: page, has_more: hasMore, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null };
}

/** One merged OpenAI-shaped entry as Anthropic's ModelInfo (a page's entry, or the answer to GET /v1/models/{id}). */
export function anthropicModelInfo(e: Record<string, unknown>): AnthropicModelInfo {
  const id = String(e.id);
  const created = typeof e.created === "number" && Number.isFinite(e.created) ? e.created : 0;
  let at: string;
  try {
    at = new Date(created * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
  } catch {
    at = "1970-01-01T00:00:00Z";
  }
  return { type: "model", id, display_name: id, created_at: at, capabilities: null, deprecated_at: null, lifecycle: "active", line: null, max_input_tokens: null, max_tokens: null, retires_at: null };
}

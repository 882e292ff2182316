// Unit tests for GET /v1/models in Anthropic's shape: ModelInfo entries and its cursor pages, as its API reads them.
import { expect, test } from "bun:test";
import { anthropicModelList, wantsAnthropicList } from "./model-list.ts";

const entries = ["a", "b", "c", "d", "e"].map((id, i) => ({ id, object: "model", created: 1_700_000_000 + i, owned_by: "library" }));
const UNKNOWN = { capabilities: null, deprecated_at: null, lifecycle: "active", line: null, max_input_tokens: null, max_tokens: null, retires_at: null };
const page = (q: string) => anthropicModelList(entries, new URLSearchParams(q));

test("each entry is a ModelInfo: type, id, the id as display_name, created_at in RFC 3339 (the epoch when unknown), active, what no upstream tells null", () => {
  expect(page("").data[0]).toEqual({ type: "model", id: "a", display_name: "a", created_at: "2023-11-14T22:13:20Z", ...UNKNOWN } as never);
  expect(anthropicModelList([{ id: "x" }], new URLSearchParams()).data).toEqual([{ type: "model", id: "x", display_name: "x", created_at: "1970-01-01T00:00:00Z", ...UNKNOWN } as never]);
});

test("pages: limit (20 by default), after_id and before_id, with has_more, first_id and last_id as the SDK follows them", () => {
  expect(page("")).toMatchObject({ has_more: false, first_id: "a", last_id: "e" });
  expect(page("limit=2")).toMatchObject({ has_more: true, first_id: "a", last_id: "b" });
  expect(page("limit=2&after_id=b")).toMatchObject({ has_more: true, first_id: "c", last_id: "d" });
  expect(page("limit=2&after_id=d")).toMatchObject({ has_more: false, first_id: "e", last_id: "e" });
  expect(page("limit=2&before_id=e")).toMatchObject({ has_more: true, first_id: "c", last_id: "d" });
  expect(page("limit=2&before_id=b")).toMatchObject({ has_more: false, first_id: "a", last_id: "a" });
  // A cursor no longer listed ends the listing; a limit out of range is brought within it.
  expect(page("after_id=gone")).toEqual({ data: [], has_more: false, first_id: null, last_id: null });
  expect(page("limit=0").data.length).toBe(1);
  expect(anthropicModelList(Array.from({ length: 25 }, (_, i) => ({ id: `m${i}` })), new URLSearchParams()).data.length).toBe(20);
});

test("an Anthropic client is told by anthropic-version, which its API requires and OpenAI's clients never send", () => {
  expect(wantsAnthropicList(new Headers({ "anthropic-version": "2023-06-01" }))).toBe(true);
  expect(wantsAnthropicList(new Headers({ authorization: "Bearer x" }))).toBe(false);
});

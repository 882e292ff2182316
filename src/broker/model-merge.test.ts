// Unit tests for the model index behind GET /api/v1/models and `models`: who serves each model, and where it is loaded.
import { expect, test } from "bun:test";
import { convertListing, mergeOllamaModels, mergeOpenAiModels, modelIndex } from "./model-merge.ts";

test("modelIndex: each model with the upstreams serving it, in their order, and those that have it loaded", () => {
  const loaded = (names: string[]) => (m: string) => names.includes(m);
  expect(
    modelIndex([
      { name: "local", models: ["qwen:0.5b", "llama3.2:1b"], warm: loaded(["llama3.2:1b"]) },
      { name: "spare", models: ["llama3.2:1b"], warm: loaded([]) },
      { name: "cloud", models: ["gpt-4o"] },
    ]),
  ).toEqual([
    { name: "gpt-4o", upstreams: ["cloud"], loaded: [] },
    { name: "llama3.2:1b", upstreams: ["local", "spare"], loaded: ["local"] },
    { name: "qwen:0.5b", upstreams: ["local"], loaded: [] },
  ]);
});

test("convertListing: each kind's list in the shape it serves, as /api/tags, /api/ps and /v1/models", () => {
  const openai = { object: "list", data: [{ id: "a" }, { id: "b", status: { value: "unloaded" } }, { id: "c", status: { value: "loaded" } }] };
  expect((convertListing(openai, "openai", "ollama-tags").models as { name: string }[]).map((m) => m.name)).toEqual(["a", "b", "c"]);
  // /api/ps: what a server that serves only loaded models lists, minus what llama.cpp's router mode says is not loaded.
  expect((convertListing(openai, "openai", "ollama-ps").models as { name: string; expires_at: string }[]).map((m) => m.name)).toEqual(["a", "c"]);
  expect(convertListing(openai, "openai", "openai")).toBe(openai);
  const tags = { models: [{ name: "llama3.2:1b" }, { model: "qwen:0.5b" }] };
  expect(convertListing(tags, "ollama", "ollama-tags")).toBe(tags);
  expect((convertListing(tags, "ollama", "openai").data as { id: string }[]).map((m) => m.id)).toEqual(["llama3.2:1b", "qwen:0.5b"]);
});

test("merged lists: a model listed as \"llama3\" by one upstream and \"llama3:latest\" by another is one entry, the first listed", () => {
  const tags = mergeOllamaModels([{ models: [{ name: "llama3:latest", size: 1 }, { name: "m:1b" }] }, { models: [{ name: "llama3", size: 0 }, { name: "m:2b" }] }]);
  expect(tags.models).toEqual([{ name: "llama3:latest", size: 1 }, { name: "m:1b" }, { name: "m:2b" }]);
  const v1 = mergeOpenAiModels([{ data: [{ id: "llama3" }] }, { data: [{ id: "llama3:latest" }, { id: "llama3:8b" }] }]);
  expect(v1.data.map((m) => m.id)).toEqual(["llama3", "llama3:8b"]);
});

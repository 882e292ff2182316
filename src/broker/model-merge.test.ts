// Unit tests for the model index behind GET /api/v1/models and `models`: who serves each model, and where it is loaded.
import { expect, test } from "bun:test";
import { modelIndex } from "./model-merge.ts";

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

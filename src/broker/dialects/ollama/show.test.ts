// Ollama's /api/show answer from a /v1/models entry: parameter_size as Ollama writes it, unknowns empty.
import { expect, test } from "bun:test";
import { mergeFacts, parameterSize, showFromEntry } from "./show.ts";

test("parameter_size as Ollama's HumanNumber writes it", () => {
  expect(parameterSize(8_030_261_312)).toBe("8.0B");
  expect(parameterSize(7_000_000_000)).toBe("7B");
  expect(parameterSize(1_543_714_304)).toBe("1.5B");
  expect(parameterSize(137_000_000)).toBe("137M");
  expect(parameterSize(22_565_000)).toBe("22.57M");
  expect(parameterSize(4_500)).toBe("5K");
  expect(parameterSize(12)).toBe("12");
});

test("an entry with no facts: every unknown field empty, completion only, modified_at from created", () => {
  expect(showFromEntry({ id: "m", created: 1_700_000_000 }, {})).toEqual({
    modelfile: "",
    parameters: "",
    template: "",
    details: { parent_model: "", format: "", family: "", families: [], parameter_size: "", quantization_level: "" },
    // general.architecture is there, empty, because `ollama show` reads it as a string whenever model_info is present.
    model_info: { "general.architecture": "" },
    capabilities: ["completion"],
    modified_at: "2023-11-14T22:13:20.000Z",
  });
  expect(showFromEntry({ id: "m" }, {}).modified_at).toBeUndefined();
});

test("facts: parameter count in details and model_info, the running context as num_ctx", () => {
  const s = showFromEntry({ id: "m" }, { parameterCount: 8_030_261_312, contextLength: 8192 });
  expect(s.details.parameter_size).toBe("8.0B");
  expect(s.model_info).toEqual({ "general.architecture": "", "general.parameter_count": 8_030_261_312, ".context_length": 8192 });
  expect(s.parameters).toBe("num_ctx 8192");
});

test("the context where Ollama's clients read it: model_info[<general.architecture>.context_length] (the architecture unknown: empty) and num_ctx", () => {
  const s = showFromEntry({ id: "m" }, { contextLength: 4096 });
  const info = s.model_info as Record<string, unknown>;
  expect(info[`${info["general.architecture"]}.context_length`]).toBe(4096);
  expect(Object.keys(info).filter((k) => k.endsWith(".context_length"))).toEqual([".context_length"]);
  expect(s.parameters).toBe("num_ctx 4096");
  expect(showFromEntry({ id: "m" }, {}).model_info).toEqual({ "general.architecture": "" });
});

test("stated capabilities after completion; the template stays empty (a server's Jinja is not Ollama's Go template)", () => {
  const s = showFromEntry({ id: "m" }, { capabilities: ["vision", "tools"] });
  expect(s.capabilities).toEqual(["completion", "vision", "tools"]);
  expect(s.template).toBe("");
});

test("mergeFacts: the server's own context wins over the entry's, capabilities add up once, the entry's other facts stay", () => {
  expect(mergeFacts({ parameterCount: 7, contextLength: 2048 }, { contextLength: 4096, capabilities: ["vision"] })).toEqual({ parameterCount: 7, contextLength: 4096, capabilities: ["vision"] });
  expect(mergeFacts({ contextLength: 2048, capabilities: ["vision"] }, { capabilities: ["vision", "tools"] })).toEqual({ contextLength: 2048, capabilities: ["vision", "tools"] });
  expect(mergeFacts({ parameterCount: 7 }, {})).toEqual({ parameterCount: 7 });
});

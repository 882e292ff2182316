// Ollama's /api/show answer from a /v1/models entry: parameter_size as Ollama writes it, unknowns empty.
import { expect, test } from "bun:test";
import { parameterSize, showFromEntry } from "./show.ts";

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
    model_info: {},
    capabilities: ["completion"],
    modified_at: "2023-11-14T22:13:20.000Z",
  });
  expect(showFromEntry({ id: "m" }, {}).modified_at).toBeUndefined();
});

test("facts: parameter count in details and model_info, the running context as num_ctx", () => {
  const s = showFromEntry({ id: "m" }, { parameterCount: 8_030_261_312, contextLength: 8192 });
  expect(s.details.parameter_size).toBe("8.0B");
  expect(s.model_info).toEqual({ "general.parameter_count": 8_030_261_312 });
  expect(s.parameters).toBe("num_ctx 8192");
});

// Unit tests for deciding the models a request names per route, and the 400 for bodies each upstream would read differently.
import { describe, expect, test } from "bun:test";
import { HttpError } from "../core/http-error.ts";
import { withModel } from "./aliases.ts";
import { requestModels } from "./model-fields.ts";

const enc = new TextEncoder();
const named = (path: string, body: string, complete = true) => requestModels(path, enc.encode(body), complete);
function refused(path: string, body: string): string {
  try {
    named(path, body);
  } catch (e) {
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).status).toBe(400);
    return (e as HttpError).message;
  }
  throw new Error("not refused");
}

describe("the differential bodies of issue 21: one answer or a 400", () => {
  test("a normal body names its model", () => {
    expect(named("/api/chat", '{"model":"llama3.2:1b","messages":[]}')).toEqual({ model: "llama3.2:1b", field: "model", others: [], opaque: null, complete: true, blobs: [] });
    expect(named("/v1/chat/completions", '{"messages":[],"model":"gpt-4o-mini"}').model).toBe("gpt-4o-mini");
  });

  test("duplicates, case variants and escaped duplicates are refused, naming the problem", () => {
    expect(refused("/api/chat", '{"model":"llama3.2:1b","model":"other"}')).toBe('the request body has "model" 2 times; upstreams differ in which one they read, so send it once');
    expect(refused("/api/chat", '{"model":"llama3.2:1b","MODEL":"other"}')).toContain('names "model" also as "MODEL"; upstreams differ in which one they read (Ollama ignores case, others do not)');
    expect(refused("/v1/chat/completions", '{"model":"llama3.2:1b","\\u006dodel":"other"}')).toContain('"model" 2 times');
    // Alone, another spelling is still refused: Ollama would run it, vLLM would not see it.
    expect(refused("/api/generate", '{"Model":"other"}')).toContain('also as "Model"');
    expect(refused("/api/generate", '{"model":"a","mo_del":"b"}')).toContain('also as "mo_del"');
  });

  test("an allowed model nested in options or in a message is not the model", () => {
    expect(named("/api/chat", '{"options":{"model":"llama3.2:1b"},"model":"other"}').model).toBe("other");
    expect(named("/api/chat", '{"messages":[{"role":"user","content":"x","model":"llama3.2:1b"}],"model":"other"}').model).toBe("other");
    expect(named("/api/chat", '{"options":{"model":"llama3.2:1b"}}').model).toBeNull();
  });

  test("a model that is not a string is refused; null and empty name none", () => {
    expect(refused("/api/chat", '{"model":["a","b"]}')).toBe('"model" in the request body must be a string');
    expect(named("/api/chat", '{"model":null}').model).toBeNull();
    expect(named("/api/chat", '{"model":""}').model).toBeNull();
  });

  test("broken JSON is refused; a body that is not an object names none", () => {
    expect(refused("/api/chat", '{"model":"a",}')).toBe("the request body is not valid JSON (expected a key in quotes at byte 13)");
    expect(named("/api/chat", '["model"]').model).toBeNull();
    expect(named("/api/chat", "").model).toBeNull();
  });
});

describe("routes that name several models (Ollama's api/types.go)", () => {
  test("copy: source acts, destination is checked too", () => {
    expect(named("/api/copy", '{"source":"qwen2.5:0.5b","destination":"llama3.2:evil"}')).toMatchObject({ model: "qwen2.5:0.5b", field: "source", others: ["llama3.2:evil"] });
    expect(refused("/api/copy", '{"source":"a","SOURCE":"b","destination":"c"}')).toContain('also as "SOURCE"');
    expect(refused("/api/copy", '{"source":"a","deſtination":"b"}')).toContain('names "destination" also as "deſtination"');
  });

  test("create: model (or the older name) acts; from is checked; a Modelfile is opaque", () => {
    expect(named("/api/create", '{"model":"mine","from":"qwen2.5:0.5b"}')).toMatchObject({ model: "mine", field: "model", others: ["qwen2.5:0.5b"], opaque: null });
    expect(named("/api/create", '{"name":"mine","modelfile":"FROM qwen2.5:0.5b"}')).toMatchObject({ model: "mine", field: "name", opaque: "modelfile" });
    expect(named("/api/create", '{"model":"a","name":"b"}')).toMatchObject({ model: "a", others: ["b"] });
  });

  test("create: the blobs of files, adapters and draft_files are read, each as sent; a second spelling of such a field is a 400", () => {
    const d = (c: string) => "sha256:" + c.repeat(64);
    const body = JSON.stringify({ model: "mine", files: { "model.gguf": d("a"), "b.gguf": d("b") }, adapters: { "lora.gguf": d("c") }, draft_files: { "d.gguf": d("d") } });
    expect(named("/api/create", body).blobs).toEqual([
      { field: "files", digest: d("a") },
      { field: "files", digest: d("b") },
      { field: "adapters", digest: d("c") },
      { field: "draft_files", digest: d("d") },
    ]);
    // Go reads a value that is no map of strings as an error; kept as its JSON, which names no blob.
    expect(named("/api/create", '{"model":"m","files":"sha256:x","adapters":{"a":1}}').blobs).toEqual([
      { field: "files", digest: '"sha256:x"' },
      { field: "adapters", digest: "1" },
    ]);
    expect(named("/api/create", '{"model":"m","files":null}').blobs).toEqual([]);
    expect(refused("/api/create", `{"model":"m","files":{},"FILES":{"a":"${d("e")}"}}`)).toContain('names "files" also as "FILES"');
    expect(refused("/api/create", `{"model":"m","adapters":{},"adapters":{"a":"${d("e")}"}}`)).toContain('"adapters" 2 times');
    expect(refused("/api/create", `{"model":"m","draftfiles":{"a":"${d("e")}"}}`)).toContain('names "draft_files" also as "draftfiles"');
  });

  test("pull, push, delete, show: model, else the older name (cmp.Or), and both are checked", () => {
    for (const p of ["/api/pull", "/api/push", "/api/delete", "/api/show"]) {
      expect(named(p, '{"name":"qwen2.5:0.5b"}')).toMatchObject({ model: "qwen2.5:0.5b", field: "name", others: [] });
      expect(named(p, '{"model":"","name":"qwen2.5:0.5b"}')).toMatchObject({ model: "qwen2.5:0.5b", field: "name" });
      expect(named(p, '{"model":"llama3.2:1b","name":"qwen2.5:0.5b"}')).toMatchObject({ model: "llama3.2:1b", others: ["qwen2.5:0.5b"] });
    }
    // On chat, "name" is not a field Ollama reads: not a model.
    expect(named("/api/chat", '{"model":"a","name":"b"}').others).toEqual([]);
  });

  test("a blob upload names no model (undefined), whatever its bytes", () => {
    expect(requestModels("/api/blobs/sha256:00", null, false).model).toBeUndefined();
  });
});

describe("a body too large to hold (only its head read)", () => {
  test("is incomplete, whatever the head shows; a declared-too-large body with no head too", () => {
    expect(named("/api/chat", '{"model":"llama3.2:1b","prompt":"xxxx', false)).toMatchObject({ model: "llama3.2:1b", complete: false });
    expect(requestModels("/api/chat", null, false)).toMatchObject({ model: null, complete: false });
    expect(requestModels("/api/chat", null, true)).toMatchObject({ model: null, complete: true });
  });
});

describe("an alias rewrites the field that was decided", () => {
  test("the escaped spelling of the one model key is the key withModel replaces; the result names only the new model", () => {
    for (const body of ['{"\\u006dodel":"gpt-4o-mini","options":{"model":"x"}}', '{"model":"gpt-4o-mini","messages":[{"model":"y"}]}']) {
      expect(named("/api/chat", body).model).toBe("gpt-4o-mini");
      const rewritten = new TextDecoder().decode(withModel(enc.encode(body), "llama3.2:3b"));
      expect(named("/api/chat", rewritten)).toMatchObject({ model: "llama3.2:3b", field: "model" });
      expect(rewritten.match(/"model"/g)!.length).toBe(2); // the top-level one, and the nested one left as it was
    }
  });
});

describe("what a route names beyond its body's model field", () => {
  test("a model name over 1024 characters is refused, in any model field; a long Modelfile (text, not a name) is not", () => {
    const long = "x".repeat(1025);
    expect(refused("/api/chat", `{"model":"${long}"}`)).toContain('"model" in the request body is 1025 characters long; a model name has at most 1024');
    expect(refused("/api/copy", `{"source":"a","destination":"${long}"}`)).toContain('"destination"');
    expect(named("/api/chat", `{"model":"${"x".repeat(1024)}"}`).model).toHaveLength(1024);
    expect(named("/api/create", `{"model":"m","modelfile":"FROM a\\n${long}"}`)).toMatchObject({ model: "m", opaque: "modelfile" });
  });

  test("a whole body whose object never ends is not valid JSON (400), not a body too large to read whole", () => {
    expect(refused("/api/chat", '{"model":"llama3.2:1b","messages":[')).toBe("the request body is not valid JSON (it ends inside its object)");
    expect(refused("/api/chat", "{")).toContain("ends inside its object");
    // Only a head of the body: the rest is still to come.
    expect(named("/api/chat", '{"model":"llama3.2:1b","messages":[', false)).toMatchObject({ model: "llama3.2:1b", complete: false });
  });

  test("GET /v1/models/{model} names the model in its path, whatever its body says", () => {
    expect(named("/v1/models/qwen2.5:0.5b", '{"model":"llama3.2:1b"}')).toMatchObject({ model: "qwen2.5:0.5b", others: [] });
    expect(requestModels("/v1/models/llama3.2:1b", null, true).model).toBe("llama3.2:1b");
    expect(named("/v1/models", '{"model":"llama3.2:1b"}').model).toBe("llama3.2:1b");
  });
});

// Unit tests for doctor's upstream check: it probes each upstream where its kind says (src/kinds/) and gives that
// kind's fix when the server does not answer.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseConfig } from "../config/load.ts";
import { checkUpstreams } from "./doctor-checks.ts";
import { startFakeOllama, type FakeOllama } from "../../tests/helpers/fake-ollama.ts";

let llama: FakeOllama;
beforeAll(async () => {
  llama = await startFakeOllama({ kind: "llamacpp", models: ["m"] });
});
afterAll(() => llama.stop());

const config = (toml: string) => {
  const r = parseConfig(toml, "t.toml");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
};

test("doctor probes a llama.cpp server at /health, and names how to start it when it is not running", async () => {
  const [up, gone] = await checkUpstreams(
    config(`[[upstreams]]\nname = "llama"\nkind = "llamacpp"\nurl = "${llama.url}"\n[[upstreams]]\nname = "gone"\nkind = "llamacpp"\nurl = "http://127.0.0.1:9"\n`),
  );
  expect(up!.level).toBe("ok");
  expect(llama.requests.map((r) => r.path)).toEqual(["/health"]);
  expect(gone!.level).toBe("warn");
  expect(gone!.fix).toContain("llama-server");
});

// Unit tests for the `models` table: aligned columns like `ollama list`, loaded upstreams, and why a list is short.
import { expect, test } from "bun:test";
import { renderModels } from "./models.ts";

const up = (name: string, state: "up" | "down" | "unknown" | "degraded", lastError: string | null = null, enabled = true) => ({ name, state, enabled, lastError });

test("one row per model: the upstreams that serve it and those that have it loaded, aligned", () => {
  const out = renderModels(
    [
      { name: "llama3.2:1b", upstreams: ["local", "spare"], loaded: ["local"] },
      { name: "qwen2.5-coder:32b", upstreams: ["spare"], loaded: [] },
    ],
    [up("local", "up"), up("spare", "degraded"), up("old", "down", "connection refused"), up("off", "down", null, false)],
  );
  expect(out.split("\n")).toEqual([
    "NAME               UPSTREAMS     LOADED",
    "llama3.2:1b        local, spare  local",
    "qwen2.5-coder:32b  spare         -",
    "old is down (connection refused): its models are not listed",
  ]);
});

test("no models: says whether nothing is up or nothing is pulled", () => {
  expect(renderModels([], [up("local", "down", "connection refused")])).toBe(
    "NAME  UPSTREAMS  LOADED\n(no models: no upstream is up)\nlocal is down (connection refused): its models are not listed",
  );
  expect(renderModels([], [up("local", "up")])).toBe("NAME  UPSTREAMS  LOADED\n(no models: pull one, e.g. `ollama pull llama3.2`)");
  expect(renderModels([], [up("new", "unknown")]).split("\n").at(-1)).toBe("new is not checked yet: its models are not listed");
});

test("a daemon older than the command (its models name no loaded upstreams): a table with ? and why, not a crash", () => {
  // GET /api/v1/models as the daemon of commit 8df390f answered it.
  const old = [{ name: "llama3.2:1b", upstreams: ["fake"] }];
  expect(renderModels(old, [up("fake", "up")]).split("\n")).toEqual([
    "NAME         UPSTREAMS  LOADED",
    "llama3.2:1b  fake       ?",
    "LOADED ?: the daemon does not report loaded models (an older version still running: restart it)",
  ]);
});

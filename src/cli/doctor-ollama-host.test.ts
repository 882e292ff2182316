// Unit tests for reading OLLAMA_HOST as Ollama does (scheme, default port, wildcard binds reached through loopback).
import { expect, test } from "bun:test";
import { ollamaHostUrl } from "./doctor-ollama-host.ts";

test("OLLAMA_HOST is read as Ollama's envconfig.Host reads it", () => {
  const cases: [string | undefined, string | null][] = [
    ["127.0.0.1:11500", "http://127.0.0.1:11500"],
    ["0.0.0.0", "http://127.0.0.1:11434"],
    ["0.0.0.0:11434", "http://127.0.0.1:11434"],
    [":11500", "http://127.0.0.1:11500"],
    ["[::]:1234", "http://[::1]:1234"],
    ["myhost", "http://myhost:11434"],
    ["http://localhost", "http://localhost:80"],
    ["https://ollama.example", "https://ollama.example:443"],
    ["http://10.0.0.2:11434/ollama", "http://10.0.0.2:11434"],
    ["ftp://x", null],
    ["", null],
    [undefined, null],
  ];
  for (const [v, want] of cases) expect({ v, url: ollamaHostUrl(v) }).toEqual({ v, url: want });
});

// A daemon config parsed from TOML for in-process tests: [api] and [proxy] on ephemeral loopback ports, then the test's sections.
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";

/** `proxyExtra` adds keys to [proxy]; a config that does not parse throws its issues. */
export function testConfig(toml: string, proxyExtra = ""): Config {
  const r = parseConfig(`[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n${proxyExtra}\n${toml}`, "test.toml");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

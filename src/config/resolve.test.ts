import { expect, test } from "bun:test";
import { parseConfig } from "./load.ts";
import { resolveBy, resolved } from "./resolve.ts";
import { HealthSchema } from "./schema.ts";

test("every duration is milliseconds in the resolved config, with the schema's defaults; other values stay as they are", () => {
  const r = parseConfig(`[health]\ninterval = "2.5s"\n[[upstreams]]\nname = "a"\nurl = "http://127.0.0.1:1"\nfirst_byte_timeout = "1m"\n`, "t.toml");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const c = resolved(r.config);
  expect(c.health.interval).toBe(2500);
  expect(c.health.down_interval).toBe(30_000); // default "30s"
  expect(c.upstreams[0]!.first_byte_timeout).toBe(60_000);
  expect(c.upstreams[0]!.stream_idle_timeout).toBe(300_000);
  expect(c.tunnel.backoff.initial).toBeGreaterThan(0);
  expect(c.alerts.cooldown).toBe(300_000);
  expect(c.upstreams[0]!.name).toBe("a");
  expect(c.health.failures_before_down).toBe(3);
  // The config as written is untouched (the API shows and edits that one).
  expect(r.config.health.interval).toBe("2.5s");
});

test("a loaded config is decoded once: the same object answers every later read", () => {
  const r = parseConfig(`[health]\ninterval = "1s"\n`, "t.toml");
  if (!r.ok) throw new Error("invalid");
  expect(resolved(r.config)).toBe(resolved(r.config));
  expect(resolveBy(HealthSchema, r.config.health)).toBe(resolveBy(HealthSchema, r.config.health));
  const copy = structuredClone(r.config);
  expect(resolved(copy)).not.toBe(resolved(r.config));
  expect(resolved(copy)).toEqual(resolved(r.config));
});

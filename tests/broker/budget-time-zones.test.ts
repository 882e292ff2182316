// A key's daily token budget and the usage report follow the UTC day, whatever the machine's time zone
// (docs/gateway.md): real daemons run with TZ set far east, far west and half an hour off. At any hour one of
// Kiritimati (UTC+14) and Pago Pago (UTC−11) is on another date than UTC, so a local "day" would show.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Ollama } from "ollama";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { apiToken, createKey, removeHome, startDaemon } from "../helpers/daemon.ts";
import { until } from "../helpers/until.ts";

let fake: FakeOllama;
beforeAll(async () => {
  fake = await startFakeOllama({ models: ["m:1b"], tokens: 20 });
});
afterAll(() => fake?.stop());

const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const toUtcMidnight = (ms: number) => {
  const d = new Date(ms);
  return (Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - ms) / 1000;
};

for (const zone of ["Pacific/Kiritimati", "Pacific/Pago_Pago", "America/St_Johns"])
  test(`TZ=${zone}: the budget is spent for the UTC day, its 429 says until 00:00 UTC (Retry-After to then), and usage is counted under the UTC date`, async () => {
    const d = await startDaemon({
      config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "local"\nurl = "${fake.url}"\n`,
      env: { TZ: zone },
      waitFor: ["api", "broker"],
    });
    try {
      const key = createKey(d, "daily", "--tokens-per-day", "20");
      const ollama = new Ollama({ host: d.urls.broker!, headers: { authorization: `Bearer ${key}` } });
      await until(async () => (await fetch(`${d.urls.broker}/api/version`, { headers: { authorization: `Bearer ${key}` } })).status === 200, 5_000, "the daemon to see the key");
      const before = Date.now();
      await ollama.generate({ model: "m:1b", prompt: "hi", stream: false });
      const refused = await fetch(`${d.urls.broker}/api/generate`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ model: "m:1b", prompt: "hi", stream: false }) });
      const after = Date.now();
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: string }).error).toContain("it resets at 00:00 UTC");
      const retry = Number(refused.headers.get("retry-after"));
      // Between what it was before the call and after it (a call straddling midnight UTC aside, which resets).
      expect(retry).toBeGreaterThanOrEqual(Math.floor(toUtcMidnight(after)));
      expect(retry).toBeLessThanOrEqual(Math.ceil(toUtcMidnight(before)) + 1);
      const token = await apiToken(d);
      const usage = (await (await fetch(`${d.urls.api}/api/v1/usage?key=daily`, { headers: { authorization: `Bearer ${token}` } })).json()) as { rows: { day: string; model: string }[] };
      expect(usage.rows.some((r) => r.model === "m:1b")).toBe(true);
      // The generation, and the key's /api/version calls (model "-"): every row under the UTC date.
      expect(usage.rows.length).toBeGreaterThanOrEqual(1);
      for (const r of usage.rows) expect([utcDate(before), utcDate(after)]).toContain(r.day);
    } finally {
      await d.stop();
      removeHome(d.home);
    }
  }, 30_000);

// `localhost` resolving to ::1 first (most current distributions' /etc/hosts): an upstream configured as
// http://localhost:PORT is reached whether Ollama listens on 127.0.0.1 only (its default) or on ::1 only.
import { afterAll, expect } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { apiToken, removeHome, startDaemon, tempHome, untilUpstreamsUp } from "../helpers/daemon.ts";
import { startFakeOllama } from "../helpers/fake-ollama.ts";
import { mountNamespace, namespaceWrapper } from "../helpers/mount-namespace.ts";
import { requireTools } from "../helpers/requires.ts";

const home = tempHome("c2l-localhost-");
afterAll(() => removeHome(home));

requireTools(["unshare", "mount", mountNamespace]).test("upstreams at http://localhost:PORT on an IPv4-only and an IPv6-only Ollama are both up and answer, with ::1 listed first", async () => {
  const v4 = await startFakeOllama({ models: ["four:latest"] });
  const v6 = await startFakeOllama({ models: ["six:latest"], hostname: "::1" });
  const hosts = join(home, "hosts");
  writeFileSync(hosts, "::1 localhost ip6-localhost\n127.0.0.1 localhost\n");
  const port = (u: string) => new URL(u).port;
  const wrapper = namespaceWrapper(join(home, "in-ns"), `mount --bind '${hosts}' /etc/hosts || exit 97`);
  const d = await startDaemon({
    home,
    binary: wrapper,
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[secrets]\nbackend = "file"\n` +
      `[[upstreams]]\nname = "v4"\nurl = "http://localhost:${port(v4.url)}"\n[[upstreams]]\nname = "v6"\nurl = "http://localhost:${port(v6.url)}"\n`,
    waitFor: ["api", "broker"],
  });
  try {
    await untilUpstreamsUp(d, await apiToken(d), 2);
    for (const model of ["four", "six"]) {
      const r = await fetch(`${d.urls.broker}/api/generate`, { method: "POST", body: JSON.stringify({ model, prompt: "hi", stream: false }) });
      expect({ model, status: r.status }).toEqual({ model, status: 200 });
      await r.text();
    }
  } finally {
    await d.stop();
    await v4.stop();
    await v6.stop();
  }
}, 60_000);

requireTools(["unshare", "mount", mountNamespace]).test('listen = "localhost:PORT" with ::1 listed first binds 127.0.0.1, as Ollama does: apps pointed at http://127.0.0.1:PORT reach it', async () => {
  const h = tempHome("c2l-localhost-listen-");
  const hosts = join(h, "hosts");
  writeFileSync(hosts, "::1 localhost ip6-localhost\n127.0.0.1 localhost\n");
  const d = await startDaemon({
    home: h,
    binary: namespaceWrapper(join(h, "in-ns"), `mount --bind '${hosts}' /etc/hosts || exit 97`),
    config: `[api]\nlisten = "localhost:0"\n[proxy]\nlisten = "localhost:0"\n[secrets]\nbackend = "file"\n[[upstreams]]\nname = "local"\nurl = "http://127.0.0.1:9"\n`,
    waitFor: ["api", "broker"],
  });
  try {
    for (const name of ["api", "broker"]) {
      const port = new URL(d.urls[name]!).port;
      const r = await fetch(`http://127.0.0.1:${port}/api/version`).catch((e: Error) => e);
      expect({ name, reached: r instanceof Response }).toEqual({ name, reached: true });
      if (r instanceof Response) await r.text();
    }
  } finally {
    await d.stop();
    removeHome(h);
  }
}, 60_000);

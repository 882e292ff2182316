// A 100 MB request body through a real daemon process: it streams to the upstream and the broker's RSS stays flat.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { removeHome, startDaemon, type DaemonProc } from "../helpers/daemon.ts";

const MB = 1024 * 1024;
let up: FakeOllama;
let d: DaemonProc;

function memKb(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)![1]);
  return { rss: get("VmRSS"), hwm: get("VmHWM") };
}

function body(totalBytes: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(256 * 1024).fill(0x5a);
  let sent = 0;
  return new ReadableStream({
    pull(c) {
      if (sent >= totalBytes) return c.close();
      c.enqueue(chunk);
      sent += chunk.byteLength;
    },
  });
}

beforeAll(async () => {
  up = await startFakeOllama();
  d = await startDaemon({
    config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n[[upstreams]]\nname = "local"\nurl = "${up.url}"\n`,
    waitFor: ["broker"],
  });
});
afterAll(async () => {
  await d?.stop();
  await up?.stop();
  if (d) removeHome(d.home);
});

test("a 100 MB blob upload passes through while the broker's RSS stays flat", async () => {
  const base = d.urls.broker!;
  // Warm up the paths the upload uses, then take the baseline.
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${base}/api/blobs/sha256:warm${i}`, { method: "POST", body: body(4 * MB), duplex: "half" } as RequestInit);
    expect(r.status).toBe(201);
  }
  const before = memKb(d.proc.pid);
  const r = await fetch(`${base}/api/blobs/sha256:${"a".repeat(64)}`, { method: "POST", body: body(100 * MB), duplex: "half" } as RequestInit);
  expect(r.status).toBe(201);
  const after = memKb(d.proc.pid);
  const rec = up.requests.filter((x) => x.path === `/api/blobs/sha256:${"a".repeat(64)}`);
  expect(rec.length).toBe(1);
  expect(rec[0]!.bodySize).toBe(100 * MB);
  // Buffering the body would add at least 100 MB to the peak; streaming stays within a few chunks.
  const growthMb = (after.hwm - before.rss) / 1024;
  console.log(`broker RSS before ${(before.rss / 1024).toFixed(1)} MB, peak after ${(after.hwm / 1024).toFixed(1)} MB, growth ${growthMb.toFixed(1)} MB`);
  expect(growthMb).toBeLessThan(40);
}, 60_000);

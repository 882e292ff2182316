// Interactive before bulk, through real processes on a rate-limited link: a chat's first token while a 20 MB upload crosses the same tunnel.
import { expect } from "bun:test";
import { join } from "node:path";
import { NETNS_NEEDS } from "../helpers/netns.ts";
import { requireTools } from "../helpers/requires.ts";

/** A veth pair and a tbf qdisc in a private namespace: the kernel must have veth and sch_tbf. */
const SHAPING = {
  name: "veth and tbf in a private network namespace",
  available: () => Bun.spawnSync(["unshare", "-rn", "sh", "-c", "ip link add c2l-probe type veth peer name c2l-probe-b && tc qdisc add dev c2l-probe root tbf rate 1mbit burst 16kb latency 30ms"], { stdout: "ignore", stderr: "ignore" }).success,
  fix: "a kernel with the veth and sch_tbf modules (modprobe veth sch_tbf)",
};
// The tools written out (the suite's scan reads them here), then NETNS_NEEDS' user-namespace check, then shaping.
const { test } = requireTools(["unshare", "ip", "tc", "nsenter", ...NETNS_NEEDS.filter((n) => typeof n !== "string"), SHAPING]);
const DRIVER = join(import.meta.dir, "../helpers/shaped-link-driver.ts");

interface ShapedRun {
  rate: string;
  tokenDelayMs: number;
  uploadKBps: number;
  unloadedMs: number;
  loadedMs: number;
  unloaded: number[];
  loaded: number[];
  upload: string;
  uploadedMiB: number;
  besideDownloadMs: number;
  besideDownload: number[];
  download: string;
  downloadedMiB: number;
  error?: string;
}

test("on a 4 Mbit/s link, a one-line chat's first token comes within 2× its unloaded time while a 20 MB upload, then a long fast answer, run on the same tunnel", async () => {
  // The fake model takes 150 ms to its first token (a small model's prefill): the bound is on what the tunnel adds.
  const proc = Bun.spawn(["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', process.execPath, DRIVER, "4mbit", "150", "5"], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  let run: ShapedRun;
  try {
    run = JSON.parse(out) as ShapedRun;
  } catch {
    throw new Error(`the shaped-link driver failed (exit ${proc.exitCode}):\n${out}\n${err}`);
  }
  expect(run.error).toBeUndefined();
  console.log(`first token: unloaded ${run.unloadedMs.toFixed(0)} ms, beside the upload ${run.loadedMs.toFixed(0)} ms, beside the long answer ${run.besideDownloadMs.toFixed(0)} ms; upload alone ${run.uploadKBps} KiB/s`);
  // The upload was still running when the last chat ended (it was cut by the driver, not finished).
  expect(run.upload).toBe("aborted");
  // The bulk stream still gets most of the link (4 Mbit/s = 488 KiB/s): smaller windows did not starve it.
  expect(run.uploadKBps).toBeGreaterThan(300);
  // Before, each chat's head waited behind the upload's 512 KiB window: ~1 s on this link, 6× the unloaded time.
  expect(run.loadedMs).toBeLessThanOrEqual(2 * run.unloadedMs);
  // The other way: tokens behind another answer's bulk DATA on the agent→relay link (before: ~1.1 s, 7×).
  expect(run.download).toBe("aborted");
  expect(run.downloadedMiB).toBeGreaterThan(1);
  expect(run.besideDownloadMs).toBeLessThanOrEqual(2 * run.unloadedMs);
}, 90_000);

test("on a 1 Mbit/s link, a chat sent 300 ms after an upload or a long answer began is not queued behind that stream's first window: every first token within 3× its unloaded time", async () => {
  // Before the stream's first window came from its head (the window capability), the first such chat waited for the
  // new stream's 512 KiB to cross: 3.8 s and 4.1 s here, 24× the unloaded time. "fresh": the upload is the session's
  // first bulk transfer (no upload alone before it).
  const proc = Bun.spawn(["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', process.execPath, DRIVER, "1mbit", "150", "3", "300", "fresh"], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  let run: ShapedRun;
  try {
    run = JSON.parse(out) as ShapedRun;
  } catch {
    throw new Error(`the shaped-link driver failed (exit ${proc.exitCode}):\n${out}\n${err}`);
  }
  expect(run.error).toBeUndefined();
  console.log(`1 Mbit/s, 300 ms in: unloaded ${run.unloadedMs.toFixed(0)} ms, beside the upload ${run.loaded.map((x) => x.toFixed(0))} ms, beside the long answer ${run.besideDownload.map((x) => x.toFixed(0))} ms`);
  expect(run.upload).toBe("aborted");
  expect(run.download).toBe("aborted");
  // ~1.7× measured: the smallest window (16 KiB) is itself 130 ms of this link; 3× leaves room for a loaded machine.
  for (const ms of [...run.loaded, ...run.besideDownload]) expect(ms).toBeLessThanOrEqual(3 * run.unloadedMs);
}, 90_000);

test("on a 1 Mbit/s link, after the link was cut past the heartbeat tolerance and a long answer resumed on the new session, a chat's first token comes within 3× its unloaded time", async () => {
  // Before, the resumed answer's stream (and any other the new session opened before it measured the link) started
  // with 512 KiB of credit: chats right after the reconnect took 2.5–3.5 s, 16–23× their unloaded time.
  const proc = Bun.spawn(["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', process.execPath, DRIVER, "1mbit", "150", "3", "300", "reconnect"], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  let run: ShapedRun & { afterReconnect: number[]; relayResumed?: string };
  try {
    run = JSON.parse(out) as typeof run;
  } catch {
    throw new Error(`the shaped-link driver failed (exit ${proc.exitCode}):\n${out}\n${err}`);
  }
  expect(run.error).toBeUndefined();
  console.log(`1 Mbit/s, after a reconnect: unloaded ${run.unloadedMs.toFixed(0)} ms, beside the resumed answer ${run.afterReconnect.map((x) => x.toFixed(0))} ms`);
  // The long answer was taken over on the new session and was still streaming when the chats ended.
  expect(run.relayResumed).toBe("1");
  expect(run.download).toBe("aborted");
  for (const ms of run.afterReconnect) expect(ms).toBeLessThanOrEqual(3 * run.unloadedMs);
}, 90_000);

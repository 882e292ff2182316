import { join } from "node:path";
import { CLIENT_KEY, TUNNEL_ID, daemonToml, generatedBody, relayToml, startAgentDaemon, startRelayProc, cleanup } from "../tests/tunnel/helpers.ts";
import { removeHome } from "../tests/helpers/daemon.ts";
import { spawnListening, treeMem, pin } from "./lib/proc.ts";
const BUN = process.execPath; const ROOT = join(import.meta.dir, "..");
const fake = await spawnListening(["taskset", "-c", "0", BUN, join(ROOT, "tests/helpers/fake-ollama.ts"), "--port", "0", "--tokens", "1", "--models", "bench:latest"]);
const bunArgs = process.argv[3] === "smol" ? ["--smol"] : [];
const env = JSON.parse(process.env.XENV ?? "{}");
const relay = await startRelayProc(relayToml(), undefined, bunArgs);
const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent`, tunnel: "allow_model_management = true", heartbeat: ["10s", "15s"], backoff: ["1s", "60s"] }), env, true, bunArgs);
for (const p of [relay.proc.pid, daemon.proc.pid]) pin(p, 1);
const url = `${relay.url}/t/${TUNNEL_ID}`; const auth = { Authorization: `Bearer ${CLIENT_KEY}` };
const show = (w: string) => { const r = treeMem(relay.proc.pid), d = treeMem(daemon.proc.pid); console.log(w.padEnd(14), `relay rss ${r.rss.toFixed(0)} peak ${r.peak.toFixed(0)} | daemon rss ${d.rss.toFixed(0)} peak ${d.peak.toFixed(0)}`); };
for (let i = 0; i < 50; i++) { const r = await fetch(`${url}/api/tags`, { headers: auth }); if (r.ok) break; await Bun.sleep(100); }
show("start");
const mode = process.argv[2] ?? "both";
if (mode !== "upload") {
  await Bun.write("/tmp/exp/post.lua", `wrk.method = "POST"\nwrk.body = '{"model":"bench:latest","prompt":"hi","stream":false}'\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "Bearer ${CLIENT_KEY}"\n`);
  const w = Bun.spawnSync(["taskset", "-c", "0", "wrk", "-t1", "-c16", "-d6s", "-s", "/tmp/exp/post.lua", `${url}/api/generate`]);
  console.log(w.stdout.toString().split("\n").filter(l => /Requests\/sec/.test(l)).join(""));
  show("after wrk");
  Bun.spawnSync(["taskset", "-c", "0", "wrk", "-t1", "-c16", "-d6s", "-s", "/tmp/exp/post.lua", `${url}/api/generate`]);
  show("after wrk 2");
}
if (mode !== "wrk") {
  const total = 100 * 1024 * 1024;
  const res = await fetch(`${url}/api/blobs/sha256:${"0".repeat(64)}`, { method: "POST", body: generatedBody(total), headers: auth, duplex: "half" } as RequestInit);
  await res.arrayBuffer();
  show("after upload");
}
await daemon.stop(); await relay.stop(); fake.proc.kill(); cleanup(relay.dir); removeHome(daemon.home);

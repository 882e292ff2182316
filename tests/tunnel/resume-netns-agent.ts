// Inside the agent's own network namespace (resume-netns.test.ts): waits for its end of the veth, starts a fake upstream
// and the daemon (connected to the relay across the veth), prints "ready", and on "report" prints what the upstream saw.
import { startFakeOllama } from "../helpers/fake-ollama.ts";
import { cleanup, daemonToml, startAgentDaemon } from "./helpers.ts";

const [relayWs, tokens] = process.argv.slice(2);
const sh = (cmd: string) => {
  const r = Bun.spawnSync(["sh", "-c", cmd], { stderr: "pipe" });
  if (!r.success) throw new Error(`${cmd}: ${r.stderr.toString()}`);
};
for (let i = 0; i < 200 && !Bun.spawnSync(["ip", "link", "show", "v1"], { stdout: "ignore", stderr: "ignore" }).success; i++) await Bun.sleep(25);
sh("ip link set lo up && ip addr add 10.203.0.2/24 dev v1 && ip link set v1 up");
const fake = await startFakeOllama({ tokens: Number(tokens), tokenDelayMs: 60 });
// The relay is across the test's own veth (ws:// to 10.x): plaintext allowed explicitly, as a user on a trusted link would.
const daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: relayWs!, tunnel: "allow_plaintext_relay = true" }));
console.log("ready");
for await (const line of console) if (line.trim() === "report") break;
const inference = fake.requests.filter((r) => r.path === "/api/generate" || r.path === "/v1/chat/completions");
console.log(JSON.stringify({ generations: inference.map((r) => r.path), aborts: fake.aborts.length, resumedLog: daemon.count(/the relay resumed an answer on the new connection/), heartbeatLost: daemon.count(/heartbeat_timeout/) }));
await daemon.stop();
await fake.stop();
cleanup(daemon.home);
process.exit(0);

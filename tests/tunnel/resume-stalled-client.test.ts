// A client that is not reading when the agent's session is lost (a phone in a pocket, a tab in the background): its
// answer at the relay waits in a write to the client, and must still be taken over when the agent comes back, within
// the resume window counted from the loss, not from the moment the client reads again.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { CLIENT_KEY, TUNNEL_ID } from "./helpers.ts";
import { relayToml } from "./helpers.ts";
import { startTunnelRig, type TunnelRig } from "./tunnel-rig.ts";
import { metric, pauseRelayPastTolerance, tokensIn } from "./resume-helpers.ts";

/** ~30 MB of NDJSON as fast as it is read: more than the pipes between the relay and a client that does not read hold. */
const TOKENS = 300_000;
let rig: TunnelRig;

beforeAll(async () => {
  rig = await startTunnelRig({ fake: { tokens: TOKENS, tokenDelayMs: 0 }, relayToml: relayToml({ extra: 'resume_window = "3s"' }) });
}, 30_000);

afterAll(() => rig?.stop());

/** An HTTP/1.1 chunked body, decoded. */
function dechunk(raw: Buffer): string {
  let out = "";
  let at = raw.indexOf("\r\n\r\n") + 4;
  for (;;) {
    const eol = raw.indexOf("\r\n", at);
    const size = parseInt(raw.subarray(at, eol).toString("latin1"), 16);
    if (!size) return out;
    out += raw.subarray(eol + 2, eol + 2 + size).toString("utf8");
    at = eol + 2 + size + 2;
  }
}

test("a client not reading while the agent's session is lost, and still not reading past the resume window: its answer was taken over meanwhile and comes whole, every token once, one generation", async () => {
  const { relay, daemon, fake } = rig;
  const before = fake.requests.length;
  const body = JSON.stringify({ model: "llama3.2:1b", prompt: "count" });
  const sock: Socket = connect(relay.port, "127.0.0.1");
  sock.on("error", () => {});
  await new Promise<void>((r) => sock.once("connect", () => r()));
  const parts: Buffer[] = [];
  let ended!: () => void;
  const done = new Promise<void>((r) => (ended = r));
  sock.on("end", () => ended());
  sock.write(`POST /t/${TUNNEL_ID}/api/generate HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${CLIENT_KEY}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
  await new Promise<void>((r) =>
    sock.once("data", (d: Buffer) => {
      parts.push(d);
      sock.pause();
      r();
    }),
  );
  sock.on("data", (d: Buffer) => parts.push(d));
  try {
    // The pipes fill; the relay's write to this client waits.
    await Bun.sleep(1_000);
    await pauseRelayPastTolerance(relay, daemon);
    // Longer than the resume window (3 s) without reading.
    await Bun.sleep(4_500);
    sock.resume();
    await done;
    const text = dechunk(Buffer.concat(parts));
    // The answer's last line (the error line, when it was cut short); the text itself is 30 MB.
    expect(text.trimEnd().split("\n").at(-1)).toMatch(/"done":true/);
    const seen = tokensIn(text);
    expect(seen.length).toBe(TOKENS);
    expect(seen.every((t, i) => t === i)).toBe(true);
    expect(fake.requests.slice(before).filter((r) => r.path === "/api/generate").length).toBe(1);
    expect(await metric(relay.url, "cloudtolocalllm_relay_resumed_streams_total")).toBe(1);
  } finally {
    sock.destroy();
  }
}, 40_000);

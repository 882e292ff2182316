// Test helpers for resumable streams: streaming calls in both dialects read to their end, the tokens in an answer, metrics,
// and a relay paused past the agent's heartbeat tolerance.
import { promSum } from "../../src/kinds/types.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { CLIENT_KEY, TUNNEL_ID, type RelayProc } from "./helpers.ts";

/** The two streaming dialects: Ollama's NDJSON and OpenAI's SSE. */
export const DIALECTS = [
  { name: "NDJSON", path: "/api/generate", body: { model: "llama3.2:1b", prompt: "count" }, done: /"done":true/ },
  { name: "SSE", path: "/v1/chat/completions", body: { model: "llama3.2:1b", stream: true, messages: [{ role: "user", content: "count" }] }, done: /data: \[DONE\]/ },
] as const;

/** The token numbers in an answer's text, in the order they came. */
export function tokensIn(text: string): number[] {
  return [...text.matchAll(/tok(\d+) /g)].map((m) => Number(m[1]));
}

/** Starts a streaming call and reads it to its end in the background; `started` resolves on its first token. */
export function streamingCall(base: string, d: { path: string; body: unknown }) {
  let text = "";
  let firstToken!: () => void;
  const started = new Promise<void>((r) => (firstToken = r));
  const done = (async () => {
    const res = await fetch(`${base}/t/${TUNNEL_ID}${d.path}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${CLIENT_KEY}`, "content-type": "application/json" },
      body: JSON.stringify(d.body),
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    const dec = new TextDecoder();
    for await (const chunk of res.body!) {
      text += dec.decode(chunk, { stream: true });
      if (/tok\d+ /.test(text)) firstToken();
    }
    return text;
  })();
  done.catch(() => firstToken());
  return { started, done, text: () => text };
}

/** A metric's value at `url`/metrics, summed over its label sets (0 while it has none). */
export async function metric(url: string, name: string, headers: Record<string, string> = {}): Promise<number> {
  return promSum(await (await fetch(`${url}/metrics`, { headers })).text(), name) ?? 0;
}

/**
 * Freezes the relay (SIGSTOP) until the agent declares its session dead (its tolerance is 1.2 s in daemonToml), waits a
 * little longer so the relay wakes to a dead socket too (and for `meanwhile`, if given), then resumes it (SIGCONT): the
 * streams in flight must resume.
 */
export async function pauseRelayPastTolerance(relay: RelayProc, agent: DaemonProc, meanwhile?: () => Promise<unknown>): Promise<void> {
  relay.proc.kill("SIGSTOP");
  try {
    await agent.waitFor(/tunnel: relay connection failed; retrying|heartbeat_timeout/, 5_000);
    await Promise.all([Bun.sleep(800), meanwhile?.()]);
  } finally {
    relay.proc.kill("SIGCONT");
  }
}

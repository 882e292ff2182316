// The page of tests/relay/browser-sdks.e2e.test.ts: the official JS clients bundled for the browser, each call a window function the test evaluates.
import OpenAI from "openai";
import { Ollama } from "ollama/browser";
import Anthropic from "@anthropic-ai/sdk";

/** What a page saw of one streamed call: when each piece arrived (ms since the call), and how it ended. */
export interface SdkOutcome {
  pieces: number[];
  text: string;
  error: string | null;
  errorName: string | null;
  status: number | null;
  code: string | null;
  /** The request id an error of the openai or @anthropic-ai/sdk client read from its answer's headers. */
  requestID: string | null;
}

type Call = { sdk: "openai" | "ollama" | "anthropic"; base: string; key: string; model: string; abortAfter?: number; headers?: Record<string, string> };

async function run(c: Call): Promise<SdkOutcome> {
  const t0 = performance.now();
  const out: SdkOutcome = { pieces: [], text: "", error: null, errorName: null, status: null, code: null, requestID: null };
  const ctl = new AbortController();
  const piece = (s: string) => {
    out.pieces.push(Math.round(performance.now() - t0));
    out.text += s;
    if (c.abortAfter !== undefined && out.pieces.length >= c.abortAfter) ctl.abort();
  };
  const messages = [{ role: "user" as const, content: "hi" }];
  try {
    if (c.sdk === "openai") {
      const client = new OpenAI({ baseURL: c.base, apiKey: c.key, dangerouslyAllowBrowser: true, maxRetries: 0, defaultHeaders: c.headers });
      const stream = await client.chat.completions.create({ model: c.model, messages, stream: true }, { signal: ctl.signal });
      for await (const ch of stream) piece(ch.choices[0]?.delta?.content ?? "");
    } else if (c.sdk === "ollama") {
      const client = new Ollama({ host: c.base, headers: { authorization: `Bearer ${c.key}`, ...c.headers } });
      const stream = await client.chat({ model: c.model, messages, stream: true });
      ctl.signal.addEventListener("abort", () => stream.abort());
      for await (const ch of stream) piece(ch.message.content);
    } else {
      const client = new Anthropic({ baseURL: c.base, apiKey: c.key, dangerouslyAllowBrowser: true, maxRetries: 0, defaultHeaders: c.headers });
      const stream = client.messages.stream({ model: c.model, max_tokens: 10, messages }, { signal: ctl.signal });
      for await (const ev of stream) if (ev.type === "content_block_delta" && ev.delta.type === "text_delta") piece(ev.delta.text);
    }
  } catch (e) {
    const err = e as Error & { status?: number; headers?: Headers | Record<string, string>; status_code?: number; requestID?: string | null };
    out.error = err.message;
    out.errorName = err.name;
    out.status = err.status ?? err.status_code ?? null;
    out.requestID = err.requestID ?? null;
    const h = err.headers;
    out.code = h ? (h instanceof Headers ? h.get("x-c2l-error-code") : (h["x-c2l-error-code"] ?? null)) : null;
  }
  return out;
}

(globalThis as unknown as { sdkCall: typeof run }).sdkCall = run;

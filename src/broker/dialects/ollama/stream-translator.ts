// An OpenAI chat completions stream rewritten, chunk by chunk, as Ollama's NDJSON stream of /api/chat or /api/generate.
//
// Each piece of text (or reasoning) is one `"done": false` line as it comes; tool calls, whose arguments arrive in
// pieces, are held and written whole in one line at the end (Ollama's calls carry their arguments as an object); the
// last line says `"done": true` with done_reason and the counts, which the broker's usage reads as on a native stream.
import { ChatStreamTranslator } from "../chat-stream-translator.ts";
import type { ChatChunk, ChatUsage } from "../chat-types.ts";
import { doneReason, ollamaStats, ollamaToolCalls, type OllamaRoute } from "./from-chat-response.ts";

export class OllamaStreamTranslator extends ChatStreamTranslator {
  protected readonly noun = "answer";
  private firstMs: number | null = null;
  private chatUsage: ChatUsage | null = null;
  /** Chat tool call index → the call as gathered so far. */
  private readonly calls = new Map<number, { id: string; function: { name: string; arguments: string } }>();

  /** `startedMs`: when the request was sent (performance.now()), for the durations. */
  constructor(
    private readonly route: OllamaRoute,
    private readonly model: string,
    private readonly startedMs: number,
  ) {
    super();
  }

  private line(rest: object): string {
    return JSON.stringify({ model: this.model, created_at: new Date().toISOString(), ...rest }) + "\n";
  }

  /** A piece of text (or of reasoning) in the route's shape, with its tokens' log probabilities when they were asked for. */
  private piece(content: string, thinking: string | null, logprobs: readonly unknown[] | null | undefined): string {
    const lp = logprobs?.length ? { logprobs } : null;
    if (this.route === "generate") return this.line({ response: content, ...(thinking ? { thinking } : {}), done: false, ...lp });
    return this.line({ message: { role: "assistant", content, ...(thinking ? { thinking } : {}) }, done: false, ...lp });
  }

  protected chunk(c: ChatChunk): string {
    if (c.usage) {
      this.chatUsage = c.usage;
      // Kept at once: a stream broken off after its counts (the Exchange ends it without end()) is counted by them.
      this.usage = { tokens: c.usage.completion_tokens ?? 0, promptTokens: c.usage.prompt_tokens ?? null, genMs: null };
    }
    const choice = c.choices?.[0];
    if (!choice) return "";
    const d = choice.delta ?? {};
    let text = "";
    const thinking = d.reasoning_content ?? d.reasoning ?? null;
    if (d.content || thinking) {
      this.firstMs ??= performance.now();
      text += this.piece(d.content ?? "", thinking, choice.logprobs?.content);
    }
    for (const t of d.tool_calls ?? []) {
      this.firstMs ??= performance.now();
      const index = t.index ?? this.calls.size - (t.id ? 0 : 1);
      let call = this.calls.get(index);
      if (!call) this.calls.set(index, (call = { id: t.id ?? `call_${index}`, function: { name: "", arguments: "" } }));
      if (t.function?.name) call.function.name += t.function.name;
      if (t.function?.arguments) call.function.arguments += t.function.arguments;
    }
    if (choice.finish_reason) this.finish = choice.finish_reason;
    return text;
  }

  protected close(): string {
    if (this.finished) return "";
    this.finished = true;
    let text = "";
    if (this.calls.size) {
      const calls = ollamaToolCalls([...this.calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c));
      text += this.route === "chat" ? this.line({ message: { role: "assistant", content: "", tool_calls: calls }, done: false }) : "";
    }
    const stats = ollamaStats(this.chatUsage, this.startedMs, this.firstMs);
    const last = this.route === "chat" ? { message: { role: "assistant", content: "" } } : { response: "" };
    return text + this.line({ ...last, done: true, done_reason: doneReason(this.finish), ...stats });
  }

  /** Ollama's in-stream error: a line `{"error":"…"}` (its client throws it); the rest of the upstream's stream is not read. */
  protected fail(message: string): string {
    this.finished = true;
    this.failure = message;
    return JSON.stringify({ error: message }) + "\n";
  }

  protected upstreamError(message: string): string {
    return this.fail(message);
  }
}

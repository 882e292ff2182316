// An OpenAI chat completions stream rewritten, chunk by chunk, as the Anthropic Messages stream of events.
//
// A state machine: the first chunk opens the message (message_start, ping); text, reasoning and each tool call open a
// content block of their own (content_block_start), closed when another kind begins (content_block_stop); the finish
// reason and the usage chunk (asked with stream_options.include_usage) make the closing message_delta and message_stop.
import { sseErrorData } from "../../../core/http-error.ts";
import { ChatStreamTranslator } from "../chat-stream-translator.ts";
import { sseText } from "../../../core/sse-text.ts";
import { messageId } from "./from-chat-response.ts";
import { stopReason } from "./stop-reason.ts";
import type { ChatChunk } from "./types.ts";

type Open = { kind: "text" } | { kind: "thinking" } | { kind: "tool"; call: number } | null;

export class AnthropicStreamTranslator extends ChatStreamTranslator {
  protected readonly noun = "message";
  private started = false;
  /** Index of the next content block; the open one is `next - 1`. */
  private next = 0;
  private open: Open = null;
  /** OpenAI tool call indexes seen (a call's later pieces name only its index). */
  private readonly calls = new Set<number>();
  /** Calls that began while another call's block was open: their arguments, until that block closes. */
  private readonly held = new Map<number, { id: string; name: string; args: string }>();
  /** The call the last piece belonged to (a piece without index or new id continues it). */
  private lastCall = -1;
  private matched: unknown = null;
  private inputTokens: number | null = null;
  private outputTokens: number | null = null;

  /**
   * @param model the model name the client asked for (shown back to it)
   * @param stops the request's stop_sequences (to tell a stop sequence from a natural end)
   * @param estimatedInput prompt tokens to show in message_start, before the upstream's count arrives at the end
   */
  constructor(
    private readonly model: string,
    private readonly stops: readonly string[],
    private readonly estimatedInput: number,
  ) {
    super();
  }

  /** An error event in the middle of an OpenAI stream ends the message with Anthropic's error event. */
  protected upstreamError(message: string): string {
    return this.fail(message);
  }

  private start(): string {
    if (this.started) return "";
    this.started = true;
    const message = { id: messageId(undefined), type: "message", role: "assistant", model: this.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: this.estimatedInput, output_tokens: 0 } };
    return sseText("message_start", { type: "message_start", message }) + sseText("ping", { type: "ping" });
  }

  protected chunk(c: ChatChunk): string {
    let text = this.start();
    if (c.usage) {
      if (typeof c.usage.prompt_tokens === "number") this.inputTokens = c.usage.prompt_tokens;
      if (typeof c.usage.completion_tokens === "number") this.outputTokens = c.usage.completion_tokens;
      // Kept at once: a stream broken off after its counts (the Exchange ends it without end()) is counted by them.
      if (this.outputTokens !== null) this.usage = { tokens: this.outputTokens, promptTokens: this.inputTokens, genMs: null };
    }
    const choice = c.choices?.[0];
    if (!choice) return text;
    const d = choice.delta ?? {};
    const thinking = d.reasoning_content ?? d.reasoning;
    if (thinking) text += this.block({ kind: "thinking" }, { type: "thinking", thinking: "", signature: "" }) + this.delta({ type: "thinking_delta", thinking });
    if (d.content) text += this.block({ kind: "text" }, { type: "text", text: "" }) + this.delta({ type: "text_delta", text: d.content });
    for (const t of d.tool_calls ?? []) {
      const call = this.callIndex(t.index, t.id);
      this.lastCall = call;
      const args = t.function?.arguments ?? "";
      if (!this.calls.has(call)) {
        this.calls.add(call);
        const head = { id: t.id ?? `toolu_${crypto.randomUUID().replaceAll("-", "")}`, name: t.function?.name ?? "" };
        // Anthropic's blocks are sequential, and a server may interleave parallel calls' pieces: while one call's block
        // is open, a new call is held whole and given its block when the open one closes.
        if (this.open?.kind === "tool") this.held.set(call, { ...head, args: "" });
        else text += this.block({ kind: "tool", call }, { type: "tool_use", ...head, input: {} });
      }
      const held = this.held.get(call);
      if (held) held.args += args;
      else if (args && this.open?.kind === "tool" && this.open.call === call) text += this.delta({ type: "input_json_delta", partial_json: args });
    }
    if (choice.finish_reason) {
      this.finish = choice.finish_reason;
      this.matched = choice.stop_reason ?? null;
    }
    return text;
  }

  /**
   * Which call a piece belongs to: its `index`; without one (some servers leave it out), a new call when it names an id
   * not seen last, else the call of the piece before.
   */
  private callIndex(index: number | undefined, id: string | undefined): number {
    if (index !== undefined) return index;
    if (id !== undefined && id !== this.lastId) {
      this.lastId = id;
      return this.calls.size;
    }
    return this.lastCall >= 0 ? this.lastCall : 0;
  }
  private lastId: string | undefined;

  /** Opens a block of this kind unless it is the open one (closing the open one first). */
  private block(kind: NonNullable<Open>, contentBlock: unknown): string {
    const o = this.open;
    if (o && o.kind === kind.kind && (o.kind !== "tool" || (kind.kind === "tool" && o.call === kind.call))) return "";
    const text = this.stopBlock();
    this.open = kind;
    return text + sseText("content_block_start", { type: "content_block_start", index: this.next++, content_block: contentBlock });
  }

  private delta(delta: unknown): string {
    return sseText("content_block_delta", { type: "content_block_delta", index: this.next - 1, delta });
  }

  /** Closes the open block; a tool block's closing gives each held call its block, whole, in the order they began. */
  private stopBlock(): string {
    if (!this.open) return "";
    const wasTool = this.open.kind === "tool";
    this.open = null;
    let text = sseText("content_block_stop", { type: "content_block_stop", index: this.next - 1 });
    if (!wasTool) return text;
    for (const [, c] of this.held) {
      const index = this.next++;
      text += sseText("content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id: c.id, name: c.name, input: {} } });
      if (c.args) text += sseText("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: c.args } });
      text += sseText("content_block_stop", { type: "content_block_stop", index });
    }
    this.held.clear();
    return text;
  }

  /**
   * The end of a message that cannot be finished: Anthropic's error event (the SDK raises it as an APIError), no
   * message_stop. The counts the upstream sent so far are kept for the accounting (else the tokens relayed are counted).
   */
  protected fail(message: string): string {
    this.finished = true;
    this.failure = message;
    if (this.outputTokens !== null) this.usage = { tokens: this.outputTokens, promptTokens: this.inputTokens, genMs: null };
    return this.start() + sseText("error", sseErrorData("anthropic", "upstream_error", message));
  }

  /** The end of the message: the open block closed, the stop reason and usage, message_stop. */
  protected close(): string {
    if (this.finished) return "";
    let text = this.start() + this.stopBlock();
    this.finished = true;
    // A server that ends a tool call with "stop" (or with no finish reason) still asked for a tool: say so.
    const finish = this.calls.size > 0 && (this.finish === "stop" || this.finish === null) ? "tool_calls" : this.finish;
    const output = this.outputTokens ?? 0;
    const usage: Record<string, number> = { output_tokens: output };
    if (this.inputTokens !== null) usage.input_tokens = this.inputTokens;
    if (this.outputTokens !== null) this.usage = { tokens: output, promptTokens: this.inputTokens, genMs: null };
    text += sseText("message_delta", { type: "message_delta", delta: stopReason(finish, this.matched, this.stops), usage });
    return text + sseText("message_stop", { type: "message_stop" });
  }
}

// An OpenAI chat completions stream rewritten, chunk by chunk, as the Responses API's stream of events.
//
// A state machine: the first chunk opens the response (response.created, response.in_progress); reasoning (chat's
// reasoning_content) opens a reasoning item (output_item.added, content_part.added, then reasoning_text.delta per
// piece), closed when text or a call begins; text opens a message
// item (output_item.added, content_part.added, then output_text.delta per piece), each tool call a function_call item
// (output_item.added, then function_call_arguments.delta per piece, to that call's own item: a server may interleave
// the pieces of parallel calls, and each delta names its item's output_index); the message is closed (its .done events)
// when a call begins, the calls when text begins again or the stream ends, which reports response.completed (or
// .incomplete) with the usage.
import { ChatStreamTranslator } from "../chat-stream-translator.ts";
import type { ChatChunk, ChatLogprob, ChatUsage } from "../chat-types.ts";
import { sseErrorData } from "../../../core/http-error.ts";
import { sseText } from "../../../core/sse-text.ts";
import { newId, responseObject, responsesUsage } from "./from-chat-response.ts";
import type { OutputItem, ResponsesRequest } from "./types.ts";

const enc = new TextEncoder();

export class ResponsesStreamTranslator extends ChatStreamTranslator {
  protected readonly noun = "response";
  private readonly id = newId("resp");
  private seq = 0;
  private started = false;
  /** The items so far, open ones as they were added (each is replaced by its done version when closed). */
  private readonly output: OutputItem[] = [];
  /** The open message item (its index in output) and its text so far. */
  private message: { index: number; text: string; logprobs: ChatLogprob[] } | null = null;
  /** The open reasoning item (its index in output) and its text so far. */
  private reasoning: { index: number; text: string } | null = null;
  /** Chat tool call index → its function_call item's index in output and arguments so far, while open. */
  private readonly openCalls = new Map<number, { index: number; args: string }>();
  /** Chat tool call indexes seen (an item was opened for each). */
  private readonly calls = new Set<number>();
  private chatUsage: ChatUsage | null = null;
  /** Characters of reasoning streamed, for the reasoning tokens' estimate when the upstream does not count them. */
  private reasoningChars = 0;

  constructor(
    private readonly req: ResponsesRequest,
    private readonly shown: string,
  ) {
    super();
  }

  private ev(type: string, rest: object): string {
    return sseText(type, { type, sequence_number: this.seq++, ...rest });
  }

  /**
   * An error event in the middle of the chat stream: the Responses stream's own error event. The answer is over, so the
   * rest of the upstream's stream is not read (abandoned: the Exchange cancels it), as Anthropic's translator does.
   */
  protected upstreamError(message: string): string {
    this.finished = true;
    this.failure = message;
    return this.start() + this.ev("error", sseErrorData("responses", "upstream_error", message));
  }

  private snapshot(status: "in_progress" | "completed" | "incomplete" | "failed", incomplete: string | null = null) {
    return responseObject(this.id, this.req, this.shown, status, [...this.output], status === "in_progress" ? null : responsesUsage(this.chatUsage, this.reasoningChars), incomplete);
  }

  private start(): string {
    if (this.started) return "";
    this.started = true;
    return this.ev("response.created", { response: this.snapshot("in_progress") }) + this.ev("response.in_progress", { response: this.snapshot("in_progress") });
  }

  protected chunk(c: ChatChunk): string {
    let text = this.start();
    if (c.usage) {
      this.chatUsage = c.usage;
      // Kept at once: a stream broken off after its counts (the Exchange ends it without end()) is counted by them.
      this.usage = { tokens: c.usage.completion_tokens ?? 0, promptTokens: c.usage.prompt_tokens ?? null, genMs: null };
    }
    const choice = c.choices?.[0];
    if (!choice) return text;
    const d = choice.delta ?? {};
    const thought = d.reasoning_content ?? d.reasoning;
    if (thought) {
      if (!this.reasoning) {
        text += this.closeMessage() + this.closeCalls();
        const { index, text: added } = this.addItem({ type: "reasoning", id: newId("rs"), summary: [], content: [], status: "in_progress" });
        this.reasoning = { index, text: "" };
        text += added + this.ev("response.content_part.added", { item_id: this.output[index]!.id, output_index: index, content_index: 0, part: { type: "reasoning_text", text: "" } });
      }
      const r = this.reasoning;
      r.text += thought;
      this.reasoningChars += typeof thought === "string" ? thought.length : 0;
      text += this.ev("response.reasoning_text.delta", { item_id: this.output[r.index]!.id, output_index: r.index, content_index: 0, delta: thought });
    }
    if (d.content) {
      if (!this.message) {
        text += this.closeReasoning() + this.closeCalls();
        const { index, text: added } = this.addItem({ type: "message", id: newId("msg"), status: "in_progress", role: "assistant", content: [] });
        this.message = { index, text: "", logprobs: [] };
        text += added + this.ev("response.content_part.added", { item_id: this.output[index]!.id, output_index: index, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
      }
      const m = this.message;
      m.text += d.content;
      // The piece's log probabilities (asked by include), as the chat chunk carries them: the same shape.
      const logprobs = choice.logprobs?.content ?? [];
      if (logprobs.length) m.logprobs.push(...logprobs);
      text += this.ev("response.output_text.delta", { item_id: this.output[m.index]!.id, output_index: m.index, content_index: 0, delta: d.content, logprobs });
    }
    for (const t of d.tool_calls ?? []) {
      const call = t.index ?? this.calls.size - (t.id ? 0 : 1);
      if (!this.calls.has(call)) {
        this.calls.add(call);
        text += this.closeReasoning() + this.closeMessage();
        const { index, text: added } = this.addItem({ type: "function_call", id: newId("fc"), call_id: t.id ?? newId("call"), name: t.function?.name ?? "", arguments: "", status: "in_progress" });
        text += added;
        this.openCalls.set(call, { index, args: "" });
      }
      const args = t.function?.arguments;
      const open = this.openCalls.get(call);
      // Pieces of a call closed already (text came between) cannot be placed: its done events were sent.
      if (args && open) {
        open.args += args;
        text += this.ev("response.function_call_arguments.delta", { item_id: this.output[open.index]!.id, output_index: open.index, delta: args });
      }
    }
    if (choice.finish_reason) this.finish = choice.finish_reason;
    return text;
  }

  /** Adds an item to the output: its index, and its output_item.added event. */
  private addItem(item: OutputItem): { index: number; text: string } {
    this.output.push(item);
    const index = this.output.length - 1;
    return { index, text: this.ev("response.output_item.added", { output_index: index, item }) };
  }

  private closeReasoning(): string {
    const r = this.reasoning;
    if (!r) return "";
    this.reasoning = null;
    const o = this.output[r.index]!;
    const part = { type: "reasoning_text" as const, text: r.text };
    let text = this.ev("response.reasoning_text.done", { item_id: o.id, output_index: r.index, content_index: 0, text: r.text });
    text += this.ev("response.content_part.done", { item_id: o.id, output_index: r.index, content_index: 0, part });
    const done: OutputItem = { ...(o as Extract<OutputItem, { type: "reasoning" }>), status: "completed", content: [part] };
    this.output[r.index] = done;
    return text + this.ev("response.output_item.done", { output_index: r.index, item: done });
  }

  /** Closes the open message: "completed", or "incomplete" when the answer was cut by its limit (as OpenAI marks it). */
  private closeMessage(status: "completed" | "incomplete" = "completed"): string {
    const m = this.message;
    if (!m) return "";
    this.message = null;
    const o = this.output[m.index] as Extract<OutputItem, { type: "message" }>;
    const part = { type: "output_text" as const, text: m.text, annotations: [], ...(m.logprobs.length ? { logprobs: m.logprobs } : {}) };
    let text = this.ev("response.output_text.done", { item_id: o.id, output_index: m.index, content_index: 0, text: m.text, logprobs: m.logprobs });
    text += this.ev("response.content_part.done", { item_id: o.id, output_index: m.index, content_index: 0, part });
    const done: OutputItem = { ...o, status, content: [part] };
    this.output[m.index] = done;
    return text + this.ev("response.output_item.done", { output_index: m.index, item: done });
  }

  /** Closes the open calls, in the order they were opened. */
  private closeCalls(): string {
    let text = "";
    for (const { index, args } of this.openCalls.values()) {
      const o = this.output[index] as Extract<OutputItem, { type: "function_call" }>;
      text += this.ev("response.function_call_arguments.done", { item_id: o.id, output_index: index, arguments: args });
      const done: OutputItem = { ...o, status: "completed", arguments: args };
      this.output[index] = done;
      text += this.ev("response.output_item.done", { output_index: index, item: done });
    }
    this.openCalls.clear();
    return text;
  }

  /**
   * A response that cannot be finished: OpenAI's response.failed, its error in the response object (status "failed"),
   * with the items so far; the counts the upstream sent are kept for the accounting.
   */
  protected fail(message: string): string {
    this.finished = true;
    this.failure = message;
    if (this.chatUsage) this.usage = { tokens: this.chatUsage.completion_tokens ?? 0, promptTokens: this.chatUsage.prompt_tokens ?? null, genMs: null };
    const response = { ...this.snapshot("failed"), output: this.partialOutput(), error: { code: "server_error", message } };
    return this.start() + this.ev("response.failed", { response });
  }

  /**
   * The upstream broke off (stream-transform.ts): the same response.failed as a stream cut short, so the client's final
   * response (responses.stream()) is a failed one with the text already streamed, not an error event alone.
   */
  brokenOff(message: string): Uint8Array | null {
    return this.finished ? null : enc.encode(this.fail(message));
  }

  /**
   * The items so far with what was streamed into the open ones (status "incomplete"), as OpenAI's own response.failed
   * carries them: the client's final response (the SDK's responses.stream() finalResponse) is that object, so the text
   * already shown is not lost from it.
   */
  private partialOutput(): OutputItem[] {
    const out = [...this.output];
    const r = this.reasoning;
    if (r) out[r.index] = { ...(out[r.index] as Extract<OutputItem, { type: "reasoning" }>), status: "incomplete", content: [{ type: "reasoning_text", text: r.text }] };
    const m = this.message;
    if (m) out[m.index] = { ...(out[m.index] as Extract<OutputItem, { type: "message" }>), status: "incomplete", content: [{ type: "output_text", text: m.text, annotations: [], ...(m.logprobs.length ? { logprobs: m.logprobs } : {}) }] };
    for (const { index, args } of this.openCalls.values()) out[index] = { ...(out[index] as Extract<OutputItem, { type: "function_call" }>), status: "incomplete", arguments: args };
    return out;
  }

  protected close(): string {
    if (this.finished) return "";
    const cut = this.finish === "length";
    let text = this.start() + this.closeReasoning() + this.closeMessage(cut ? "incomplete" : "completed") + this.closeCalls();
    this.finished = true;
    if (this.chatUsage) this.usage = { tokens: this.chatUsage.completion_tokens ?? 0, promptTokens: this.chatUsage.prompt_tokens ?? null, genMs: null };
    text += cut
      ? this.ev("response.incomplete", { response: this.snapshot("incomplete", "max_output_tokens") })
      : this.ev("response.completed", { response: this.snapshot("completed") });
    return text;
  }
}

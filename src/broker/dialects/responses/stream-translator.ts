// An OpenAI chat completions stream rewritten, chunk by chunk, as the Responses API's stream of events.
//
// A state machine: the first chunk opens the response (response.created, response.in_progress); text opens a message
// item (output_item.added, content_part.added, then output_text.delta per piece), each tool call a function_call item
// (output_item.added, then function_call_arguments.delta per piece); an item is closed (its .done events) when another
// begins; the end of the stream closes the last and reports response.completed (or .incomplete) with the usage.
import { ChatStreamTranslator } from "../chat-stream-translator.ts";
import type { ChatChunk, ChatUsage } from "../chat-types.ts";
import { sseErrorData } from "../../../core/http-error.ts";
import { sseText } from "../../../core/sse-text.ts";
import { newId, responseObject, responsesUsage } from "./from-chat-response.ts";
import type { OutputItem, ResponsesRequest } from "./types.ts";

export class ResponsesStreamTranslator extends ChatStreamTranslator {
  protected readonly noun = "response";
  private readonly id = newId("resp");
  private seq = 0;
  private started = false;
  /** Items done so far and the open one (its index is output.length - 1 while open). */
  private readonly output: OutputItem[] = [];
  private open: OutputItem | null = null;
  /** The open message's text, or the open call's arguments. */
  private buffer = "";
  /** Chat tool call index → whether its item was opened. */
  private readonly calls = new Set<number>();
  private chatUsage: ChatUsage | null = null;

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
    this.abandoned = true;
    return this.start() + this.ev("error", sseErrorData("responses", "upstream_error", message));
  }

  private snapshot(status: "in_progress" | "completed" | "incomplete" | "failed", incomplete: string | null = null) {
    return responseObject(this.id, this.req, this.shown, status, [...this.output], status === "in_progress" ? null : responsesUsage(this.chatUsage), incomplete);
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
    if (d.content) {
      if (this.open?.type !== "message") text += this.openItem({ type: "message", id: newId("msg"), status: "in_progress", role: "assistant", content: [] });
      this.buffer += d.content;
      text += this.ev("response.output_text.delta", { item_id: this.open!.id, output_index: this.output.length - 1, content_index: 0, delta: d.content, logprobs: [] });
    }
    for (const t of d.tool_calls ?? []) {
      const call = t.index ?? this.calls.size - (t.id ? 0 : 1);
      if (!this.calls.has(call)) {
        this.calls.add(call);
        text += this.openItem({ type: "function_call", id: newId("fc"), call_id: t.id ?? newId("call"), name: t.function?.name ?? "", arguments: "", status: "in_progress" });
      }
      const args = t.function?.arguments;
      if (args && this.open?.type === "function_call") {
        this.buffer += args;
        text += this.ev("response.function_call_arguments.delta", { item_id: this.open.id, output_index: this.output.length - 1, delta: args });
      }
    }
    if (choice.finish_reason) this.finish = choice.finish_reason;
    return text;
  }

  /** Closes the open item and opens `item` (output_item.added; a message also its content_part.added). */
  private openItem(item: OutputItem): string {
    let text = this.closeItem();
    this.open = item;
    this.buffer = "";
    this.output.push(item);
    const index = this.output.length - 1;
    text += this.ev("response.output_item.added", { output_index: index, item });
    if (item.type === "message") text += this.ev("response.content_part.added", { item_id: item.id, output_index: index, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
    return text;
  }

  private closeItem(): string {
    const o = this.open;
    if (!o) return "";
    this.open = null;
    const index = this.output.length - 1;
    let text = "";
    let done: OutputItem;
    if (o.type === "message") {
      const part = { type: "output_text" as const, text: this.buffer, annotations: [] };
      text += this.ev("response.output_text.done", { item_id: o.id, output_index: index, content_index: 0, text: this.buffer, logprobs: [] });
      text += this.ev("response.content_part.done", { item_id: o.id, output_index: index, content_index: 0, part });
      done = { ...o, status: "completed", content: [part] };
    } else {
      text += this.ev("response.function_call_arguments.done", { item_id: o.id, output_index: index, arguments: this.buffer });
      done = { ...o, status: "completed", arguments: this.buffer };
    }
    this.output[index] = done;
    return text + this.ev("response.output_item.done", { output_index: index, item: done });
  }

  /**
   * A response that cannot be finished: OpenAI's response.failed, its error in the response object (status "failed"),
   * with the items so far; the counts the upstream sent are kept for the accounting.
   */
  protected fail(message: string): string {
    this.finished = true;
    this.abandoned = true;
    if (this.chatUsage) this.usage = { tokens: this.chatUsage.completion_tokens ?? 0, promptTokens: this.chatUsage.prompt_tokens ?? null, genMs: null };
    const response = { ...this.snapshot("failed"), error: { code: "server_error", message } };
    return this.start() + this.ev("response.failed", { response });
  }

  protected close(): string {
    if (this.finished) return "";
    let text = this.start() + this.closeItem();
    this.finished = true;
    if (this.chatUsage) this.usage = { tokens: this.chatUsage.completion_tokens ?? 0, promptTokens: this.chatUsage.prompt_tokens ?? null, genMs: null };
    const cut = this.finish === "length";
    text += cut
      ? this.ev("response.incomplete", { response: this.snapshot("incomplete", "max_output_tokens") })
      : this.ev("response.completed", { response: this.snapshot("completed") });
    return text;
  }
}

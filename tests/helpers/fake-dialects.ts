// The fake upstream's answers in the dialects beyond Ollama's and plain chat: Anthropic's /v1/messages and OpenAI's
// /v1/responses (served by the Ollama-kind fake, as Ollama 0.14 serves them), and chat completions that call a tool
// with arguments streamed in pieces (every kind). Shapes from Anthropic's and OpenAI's API references.

/** What the fake server lends these handlers: its token stream (delays, aborts noticed and recorded) and its model list. */
export interface FakeContext {
  hasModel(m: unknown): boolean;
  tokensFor(body: any): number;
  tokenText(i: number): string;
  /** A stream of `pieces` (one per token delay) then `final`; the client going away is recorded as an abort of `path`. */
  stream(req: Request, path: string, pieces: Uint8Array[], final: Uint8Array[]): Response;
  /** Waits as long as `tokens` would take; false when the client went away (recorded). */
  wait(req: Request, path: string, tokens: number): Promise<boolean>;
}

const enc = new TextEncoder();
const event = (name: string, data: unknown) => enc.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
const data = (o: unknown) => enc.encode(`data: ${JSON.stringify(o)}\n\n`);
const PROMPT_TOKENS = 7;
/** The tool call every fake model makes when offered tools: the first tool, for Paris, its arguments in two pieces. */
export const TOOL_ARGS = ['{"city":', ' "Paris"}'];

/** Whether the conversation asks for a tool call: tools offered and the last turn is not a tool's result. */
function wantsTool(body: any, lastIsResult: (m: any) => boolean): boolean {
  const last = Array.isArray(body?.messages) ? body.messages.at(-1) : undefined;
  return Array.isArray(body?.tools) && body.tools.length > 0 && !(last && lastIsResult(last));
}

const toolName = (t: any): string => t?.name ?? t?.function?.name ?? "tool";

/** POST /v1/messages as Anthropic's Messages API answers it (stream and not), with a tool_use when tools are offered. */
export async function anthropicMessages(ctx: FakeContext, req: Request, body: any): Promise<Response> {
  const path = "/v1/messages";
  if (!ctx.hasModel(body?.model)) return Response.json({ type: "error", error: { type: "not_found_error", message: `model '${body?.model}' not found` } }, { status: 404 });
  const n = ctx.tokensFor(body);
  const id = `msg_${Math.floor(Math.random() * 1e9)}`;
  const tool = wantsTool(body, (m) => m.role === "user" && Array.isArray(m.content) && m.content.some((b: any) => b?.type === "tool_result"));
  const name = tool ? toolName(body.tools[0]) : "";
  const message = { id, type: "message", role: "assistant", model: body.model };
  if (!body.stream) {
    if (!(await ctx.wait(req, path, n))) return Response.json({ type: "error", error: { type: "api_error", message: "aborted" } }, { status: 500 });
    const content = tool ? [{ type: "tool_use", id: "toolu_fake1", name, input: JSON.parse(TOOL_ARGS.join("")) }] : [{ type: "text", text: Array.from({ length: n }, (_, i) => ctx.tokenText(i)).join("") }];
    return Response.json({ ...message, content, stop_reason: tool ? "tool_use" : "end_turn", stop_sequence: null, usage: { input_tokens: PROMPT_TOKENS, output_tokens: n } });
  }
  const start = event("message_start", { type: "message_start", message: { ...message, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: PROMPT_TOKENS, output_tokens: 1 } } });
  const block = tool ? { type: "tool_use", id: "toolu_fake1", name, input: {} } : { type: "text", text: "" };
  const head = Buffer.concat([start, event("ping", { type: "ping" }), event("content_block_start", { type: "content_block_start", index: 0, content_block: block })]);
  const deltas = tool
    ? TOOL_ARGS.map((p) => event("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: p } }))
    : Array.from({ length: n }, (_, i) => event("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: ctx.tokenText(i) } }));
  deltas[0] = Buffer.concat([head, deltas[0] ?? new Uint8Array(0)]);
  const final = [
    event("content_block_stop", { type: "content_block_stop", index: 0 }),
    event("message_delta", { type: "message_delta", delta: { stop_reason: tool ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: n } }),
    event("message_stop", { type: "message_stop" }),
  ];
  return ctx.stream(req, path, deltas, final);
}

/** POST /v1/responses as OpenAI's Responses API answers it (stream and not): one output_text message. */
export async function openAiResponses(ctx: FakeContext, req: Request, body: any): Promise<Response> {
  const path = "/v1/responses";
  if (!ctx.hasModel(body?.model)) return Response.json({ error: { message: `model '${body?.model}' not found`, type: "invalid_request_error", code: "model_not_found", param: null } }, { status: 404 });
  const n = ctx.tokensFor({ max_tokens: body?.max_output_tokens });
  const id = `resp_${Math.floor(Math.random() * 1e9)}`;
  const itemId = `msg_${Math.floor(Math.random() * 1e9)}`;
  const text = Array.from({ length: n }, (_, i) => ctx.tokenText(i)).join("");
  const usage = { input_tokens: PROMPT_TOKENS, input_tokens_details: { cached_tokens: 0 }, output_tokens: n, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: PROMPT_TOKENS + n };
  const item = (t: string, status: string) => ({ id: itemId, type: "message", status, role: "assistant", content: [{ type: "output_text", text: t, annotations: [] }] });
  // The response object echoes the request's settings (instructions, metadata, tools, text format…), as OpenAI's API
  // reference shows it and vLLM's ResponsesResponse writes it: before usage, and user after it.
  const echo = { instructions: body.instructions ?? null, metadata: body.metadata ?? {}, tools: body.tools ?? [], text: body.text ?? { format: { type: "text" } } };
  const response = (status: string, output: unknown[], u: unknown) => ({ id, object: "response", created_at: Math.floor(Date.now() / 1000), status, model: body.model, output, error: null, incomplete_details: null, ...echo, usage: u, user: body.user ?? null });
  if (!body.stream) {
    if (!(await ctx.wait(req, path, n))) return Response.json({ error: { message: "aborted" } }, { status: 500 });
    return Response.json(response("completed", [item(text, "completed")], usage));
  }
  let seq = 0;
  const ev = (type: string, rest: object) => event(type, { type, sequence_number: seq++, ...rest });
  const head = Buffer.concat([
    ev("response.created", { response: response("in_progress", [], null) }),
    ev("response.output_item.added", { output_index: 0, item: { ...item("", "in_progress"), content: [] } }),
    ev("response.content_part.added", { item_id: itemId, output_index: 0, content_index: 0, part: { type: "output_text", text: "", annotations: [] } }),
  ]);
  const deltas = Array.from({ length: n }, (_, i) => ev("response.output_text.delta", { item_id: itemId, output_index: 0, content_index: 0, delta: ctx.tokenText(i) }));
  deltas[0] = Buffer.concat([head, deltas[0] ?? new Uint8Array(0)]);
  const final = [
    ev("response.output_text.done", { item_id: itemId, output_index: 0, content_index: 0, text }),
    ev("response.content_part.done", { item_id: itemId, output_index: 0, content_index: 0, part: { type: "output_text", text, annotations: [] } }),
    ev("response.output_item.done", { output_index: 0, item: item(text, "completed") }),
    ev("response.completed", { response: response("completed", [item(text, "completed")], usage) }),
  ];
  return ctx.stream(req, path, deltas, final);
}

/**
 * A chat completion that calls the first tool offered (OpenAI's shape): streamed as a first chunk naming the call, then
 * its arguments in pieces, then finish_reason "tool_calls" (and the usage chunk when stream_options.include_usage); or
 * null when the conversation does not ask for a tool.
 */
export async function chatToolCall(ctx: FakeContext, req: Request, body: any): Promise<Response | null> {
  if (!wantsTool(body, (m) => m.role === "tool")) return null;
  const path = "/v1/chat/completions";
  const name = toolName(body.tools[0]);
  const id = `chatcmpl-${Math.floor(Math.random() * 1e9)}`;
  const created = Math.floor(Date.now() / 1000);
  const usage = { prompt_tokens: PROMPT_TOKENS, completion_tokens: TOOL_ARGS.length, total_tokens: PROMPT_TOKENS + TOOL_ARGS.length };
  const base = { id, object: "chat.completion.chunk", created, model: body.model };
  if (!body.stream) {
    if (!(await ctx.wait(req, path, TOOL_ARGS.length))) return Response.json({ error: { message: "aborted" } }, { status: 500 });
    const call = { id: "call_fake1", type: "function", function: { name, arguments: TOOL_ARGS.join("") } };
    return Response.json({ id, object: "chat.completion", created, model: body.model, choices: [{ index: 0, message: { role: "assistant", content: null, tool_calls: [call] }, finish_reason: "tool_calls" }], usage });
  }
  // Asked to call tools "in parallel" (and not told not to): every tool offered, their pieces interleaved, as some
  // servers stream parallel calls (each piece names its call's index).
  const calls = /in parallel/.test(JSON.stringify(body.messages?.at(-1)?.content ?? "")) && body.parallel_tool_calls !== false ? body.tools.map(toolName) : [name];
  const first = data({
    ...base,
    choices: [{ index: 0, delta: { role: "assistant", content: null, tool_calls: calls.map((n: string, i: number) => ({ index: i, id: `call_fake${i + 1}`, type: "function", function: { name: n, arguments: "" } })) }, finish_reason: null }],
  });
  const pieces = TOOL_ARGS.flatMap((a) => calls.map((_: string, i: number) => data({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: i, function: { arguments: a } }] }, finish_reason: null }] })));
  pieces[0] = Buffer.concat([first, pieces[0]!]);
  const final = [data({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] })];
  if (body.stream_options?.include_usage) final.push(data({ ...base, choices: [], usage }));
  final.push(enc.encode("data: [DONE]\n\n"));
  return ctx.stream(req, path, pieces, final);
}

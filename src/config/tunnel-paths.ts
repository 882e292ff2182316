// The paths the tunnel passes by default ([tunnel] allowed_paths): apart from schema.ts, so the broker's hot path can
// read them without loading TypeBox (an idle daemon loads no schema library: tests/api/lazy-load.test.ts).
export const DEFAULT_TUNNEL_PATHS = [
  "/api/chat",
  "/api/generate",
  "/api/embed",
  "/api/embeddings",
  "/api/tags",
  "/api/show",
  "/api/version",
  "/api/ps",
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings",
  "/v1/models",
  // Anthropic's Messages API (Claude Code and other Anthropic clients) and OpenAI's Responses API (docs/broker.md).
  "/v1/messages",
  "/v1/messages/count_tokens",
  "/v1/responses",
];

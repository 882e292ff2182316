// Shapes of the /api/v1/keys routes: the key's public record (KeyInfo, shared in core/contracts) and what create takes.
import { t } from "elysia";
import { KEY_NAME, KeyInfo } from "../../../core/contracts.ts";
import { PAGE_MAX } from "../../paging.ts";

export { KeyInfo };

export const KeysQuery = t.Object({
  limit: t.Optional(t.Integer({ minimum: 1, maximum: PAGE_MAX, description: "Keys in one page (default: every key). A page shorter than this is the last." })),
  after: t.Optional(t.String({ maxLength: 200, description: "Only keys whose name sorts after this one: the last name of the page before.", examples: ["editor"] })),
});

export const KeyName = t.Object({ name: t.String({ pattern: KEY_NAME.source, description: "The key's name.", examples: ["editor"] }) });

export const KeyCreate = t.Object(
  {
    name: t.String({ pattern: KEY_NAME.source, examples: ["editor"] }),
    models: t.Optional(t.Array(t.String({ minLength: 1 }), { description: "Model globs the key may use (default: all).", examples: [["llama3*", "qwen2.5:*"]] })),
    rpm: t.Optional(t.Integer({ minimum: 0, description: "Requests per minute (0: no limit)." })),
    tokens_per_day: t.Optional(t.Integer({ minimum: 0, description: "Prompt + completion tokens per UTC day (0: no limit)." })),
    max_parallel: t.Optional(t.Integer({ minimum: 0, description: "Requests at once (0: no limit)." })),
    allow_model_management: t.Optional(t.Boolean({ description: "May pull, push, create, copy and delete models (only those `models` allows; with `models`, create only from blobs this key uploaded), upload blobs, and unload a model an upstream's keep_alive keeps loaded (`ollama stop`) (default: false)." })),
    expires: t.Optional(t.String({ pattern: "^[1-9][0-9]*(m|h|d|w)$", description: "Lifetime, e.g. 90m, 12h, 30d, 2w; at most 5200w (default: never).", examples: ["30d"] })),
  },
  { additionalProperties: false },
);

export const KeyCreated = t.Composite([t.Object({ key: t.String({ description: "The key itself: shown in this answer only, never again." }) }), KeyInfo]);

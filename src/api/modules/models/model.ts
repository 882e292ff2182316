// Shape of GET /api/v1/models.
import { t } from "elysia";

export const ModelEntry = t.Object(
  { name: t.String({ examples: ["llama3.2:1b"] }), upstreams: t.Array(t.String(), { examples: [["local"]] }) },
  { additionalProperties: true },
);

// Shape of GET /api/v1/models.
import { t } from "elysia";

export const ModelEntry = t.Object(
  {
    name: t.String({ examples: ["llama3.2:1b"] }),
    upstreams: t.Array(t.String(), { examples: [["local"]], description: "The upstreams that serve this model (up or degraded)." }),
    loaded: t.Array(t.String(), { examples: [["local"]], description: "Those of them that have it loaded in memory now (Ollama's /api/ps, read with each health check)." }),
  },
  { additionalProperties: true },
);

// Parameters of the upstream routes.
import { t } from "elysia";

export const UpstreamName = t.Object({ name: t.String({ minLength: 1, description: "Upstream name from the config.", examples: ["local"] }) });

// Response shapes of /healthz and /readyz.
import { t } from "elysia";

export const Health = t.Object({ status: t.Literal("ok") }, { examples: [{ status: "ok" }] });
export const Ready = t.Object(
  { ready: t.Boolean(), reason: t.String() },
  { examples: [{ ready: true, reason: "upstream local up" }, { ready: false, reason: "no upstream is up (local)" }] },
);

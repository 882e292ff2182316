// Response models of the sign-in routes (no token ever appears in them): the shared AuthStatus plus the issuer.
import { t } from "elysia";
import { AuthStatus, DeviceLoginStarted, Nullable } from "../../../core/contracts.ts";

export { DeviceLoginStarted };

export const AuthStatusBody = t.Object(
  {
    ...AuthStatus.properties,
    issuer: Nullable(t.String()),
    pendingSignIn: t.Optional(t.Boolean({ description: "A device sign-in is pending; sent instead of `pending` (its code) to a caller without the API token or a dashboard session." })),
  },
  { description: "Sign-in state." },
);

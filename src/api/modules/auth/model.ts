// Response models of the sign-in routes (no token ever appears in them): the shared AuthStatus plus the issuer.
import { t } from "elysia";
import { AuthStatus, DeviceLoginStarted, Nullable } from "../../../core/contracts.ts";

export { DeviceLoginStarted };

export const AuthStatusBody = t.Object({ ...AuthStatus.properties, issuer: Nullable(t.String()) }, { description: "Sign-in state." });

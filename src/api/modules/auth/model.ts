// Response models of the sign-in routes (no token ever appears in them): the shared AuthStatus plus the issuer.
import { t } from "elysia";
import { AuthStatus, DeviceLoginStarted } from "../../../core/contracts.ts";

export { DeviceLoginStarted };

const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(s: T) => t.Union([s, t.Null()]);

export const AuthStatusBody = t.Object({ ...AuthStatus.properties, issuer: Nullable(t.String()) }, { description: "Sign-in state." });

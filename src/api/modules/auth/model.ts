// Response models of the sign-in routes (no token ever appears in them).
import { t } from "elysia";

const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(s: T) => t.Union([s, t.Null()]);

export const DeviceLoginStarted = t.Object(
  {
    verificationUri: t.String({ description: "Page where the user enters the code.", examples: ["https://id.example.com/device"] }),
    verificationUriComplete: Nullable(t.String({ description: "The same page with the code filled in, when the issuer offers it." })),
    userCode: t.String({ description: "Code the user types or confirms.", examples: ["WDJB-MJHT"] }),
    expiresAt: t.String({ description: "When the code stops working (ISO time)." }),
  },
  { description: "A device sign-in waiting for the user; progress follows as auth.progress events." },
);

export const AuthStatusBody = t.Object(
  {
    state: t.UnionEnum(["disabled", "signed_out", "signed_in", "login_required"]),
    subject: Nullable(t.String({ description: "The signed-in user's subject (sub claim)." })),
    name: Nullable(t.String()),
    expiresAt: Nullable(t.String({ description: "When the current access token expires (ISO time)." })),
    reason: Nullable(t.String({ description: "Why sign-in is required, when it is." })),
    issuer: Nullable(t.String()),
    pending: Nullable(DeviceLoginStarted),
  },
  { description: "Sign-in state." },
);

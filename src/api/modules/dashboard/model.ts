// Shapes of the dashboard's API routes: the one-time code and the session check.
import { t } from "elysia";

export const IssuedCode = t.Object(
  {
    code: t.String({ description: "Single-use code, valid for about a minute." }),
    path: t.String({ description: "Open this path on the API's address to sign the browser in.", examples: ["/auth?code=Zm9v"] }),
    url: t.String({ description: "The same as a full URL, built from the Host the request used.", examples: ["http://127.0.0.1:8765/auth?code=Zm9v"] }),
    expiresAt: t.String({ description: "ISO time after which the code is refused." }),
  },
  { description: "A one-time dashboard code; exchanging it at /auth sets the session cookie and redirects to /." },
);

export const SessionInfo = t.Object({
  via: t.UnionEnum(["cookie", "bearer"], { description: "How this request was authenticated." }),
});

export const AuthQuery = t.Object({ code: t.Optional(t.String({ maxLength: 200 })) });

const Nullable = <T extends Parameters<typeof t.Union>[0][number]>(s: T) => t.Union([s, t.Null()]);

export const ChartPoint = t.Object({
  t: t.Number({ description: "Epoch milliseconds." }),
  p50: Nullable(t.Number()),
  p95: Nullable(t.Number()),
  rps: t.Number({ description: "Requests per second." }),
  tps: Nullable(t.Number({ description: "Tokens per second." })),
});

export const ChartHistory = t.Object({
  intervalMs: t.Number({ description: "Time between samples." }),
  windowMs: t.Number({ description: "How far back the samples go." }),
  upstreams: t.Record(t.String(), t.Array(ChartPoint), { description: "Upstream name → samples, oldest first." }),
});

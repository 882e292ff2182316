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

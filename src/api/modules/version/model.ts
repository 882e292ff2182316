// Shape of GET /api/v1/version.
import { t } from "elysia";

export const VersionQuery = t.Object({
  client: t.Optional(t.String({ maxLength: 64, description: "The caller's own version; the answer then includes a compatibility verdict.", examples: ["3.0.1"] })),
});

export const VersionInfo = t.Object(
  {
    version: t.String(),
    commit: t.String(),
    buildDate: t.String(),
    protocolVersion: t.Number(),
    apiVersion: t.String(),
    bun: t.String(),
    client: t.Optional(
      t.Object({
        version: t.String(),
        compatible: t.Boolean(),
        level: t.UnionEnum(["ok", "warn", "incompatible"]),
        message: t.String(),
      }),
    ),
  },
  {
    examples: [
      {
        version: "3.0.0",
        commit: "7481c18abcde",
        buildDate: "2026-11-21T12:00:00Z",
        protocolVersion: 2,
        apiVersion: "1",
        bun: "1.4.5",
        client: { version: "3.0.1", compatible: true, level: "ok", message: "version 3.0.1 is compatible with 3.0.0" },
      },
    ],
  },
);

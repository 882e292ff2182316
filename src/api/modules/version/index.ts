// GET /api/v1/version[?client=VERSION].
import { Elysia } from "elysia";
import { access } from "../../security/access.ts";
import { VersionInfo, VersionQuery } from "./model.ts";
import { versionInfo } from "./service.ts";

export const versionModule = () =>
  new Elysia({ prefix: "/api/v1/version" }).use(access).get("", ({ query }) => versionInfo(query.client), {
    query: VersionQuery,
    response: { 200: VersionInfo },
    access: "public", detail: { tags: ["version"], summary: "Versions, protocol version, build, and compatibility with the calling client" },
  });

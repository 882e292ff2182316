// GET/POST /api/v1/keys, GET/DELETE /api/v1/keys/:name: the gateway's API keys (the key itself only in create's answer).
import { Elysia, t } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import { errors } from "../../schemas.ts";
import { access } from "../../security/access.ts";
import { KeyCreate, KeyCreated, KeyInfo, KeyName, KeysQuery } from "./model.ts";
import { createKey, getKey, listKeys, revokeKey } from "./service.ts";

const tags = ["keys"];

export const keysModule = (deps: ApiDeps) =>
  new Elysia({ prefix: "/api/v1/keys" }).use(access)
    .get("", ({ query }) => listKeys(deps.ctx, query), {
      query: KeysQuery,
      response: { 200: t.Array(KeyInfo, { description: "By name." }), ...errors(401, 422) },
      detail: { tags, summary: "The API keys by name, a page at a time with limit and after: names, limits, expiry (never the keys)" },
    })
    .post(
      "",
      ({ body, set }) => {
        const made = createKey(deps.ctx, body);
        set.status = 201;
        return made;
      },
      {
        body: KeyCreate,
        response: { 201: KeyCreated, ...errors(400, 401, 409, 413, 415, 422) },
        detail: { tags, summary: "Create a key; the answer holds the key itself, the only time it is shown" },
      },
    )
    .get("/:name", ({ params }) => getKey(deps.ctx, params.name), {
      params: KeyName,
      response: { 200: KeyInfo, ...errors(401, 404) },
      detail: { tags, summary: "One key's record" },
    })
    .delete(
      "/:name",
      ({ params, set }) => {
        revokeKey(deps.ctx, params.name);
        set.status = 204;
      },
      {
        params: KeyName,
        response: { 204: t.Void(), ...errors(401, 404) },
        detail: { tags, summary: "Revoke a key: its callers get 401 from then on" },
      },
    );

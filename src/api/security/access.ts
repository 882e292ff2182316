// The `access` macro: a route says who may call it in one word beside its handler, and that word is also its OpenAPI security.
import { Elysia } from "elysia";
import { SECURITY_OF, type Access } from "./policy.ts";

/**
 * `{ access: "public" }`, `{ access: "token" }` or `{ access: "token_or_session" }` on a route; a route that says
 * nothing is protected (token or dashboard session). The security layer reads the same declaration from the route it
 * matched (route-access.ts), so the rule and the document cannot disagree.
 */
export const access = new Elysia({ name: "access" }).macro({
  access: (a: Access) => ({ detail: { security: SECURITY_OF[a] } }),
});

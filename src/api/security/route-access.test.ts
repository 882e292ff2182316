// Unit tests for reading a matched route's declaration: public, token only, the default, and fail-closed cases.
import { expect, test } from "bun:test";
import { accessOf, SECURITY_OF } from "./policy.ts";

const PUBLIC = { security: SECURITY_OF.public };
const TOKEN_ONLY = { security: SECURITY_OF.token };
import { RouteAccess, type RouteLike } from "./route-access.ts";

test("a route's detail.security decides; anything else is protected", () => {
  expect(accessOf(undefined)).toBe("token_or_session");
  expect(accessOf(PUBLIC.security)).toBe("public");
  expect(accessOf(TOKEN_ONLY.security)).toBe("token");
  expect(accessOf([{ bearer: [] }, { session: [] }])).toBe("token_or_session");
  expect(accessOf("nonsense")).toBe("token");
  expect(accessOf([{}])).toBe("token");
});

test("lookup by method and route pattern: HEAD is GET, a WS route answers GET upgrades, unknown routes get the default, later registrations win", () => {
  const routes: RouteLike[] = [
    { method: "GET", path: "/healthz", hooks: { detail: PUBLIC } },
    { method: "GET", path: "/api/v1/requests", hooks: {} },
    { method: "WS", path: "/ws" },
    { method: "POST", path: "/api/v1/dashboard/code", hooks: { detail: TOKEN_ONLY } },
    { method: "GET", path: "/swagger", hooks: { detail: { security: [{ bearer: [] }] } } },
  ];
  const access = new RouteAccess(() => routes);
  expect(access.of("GET", "/healthz")).toBe("public");
  expect(access.of("HEAD", "/healthz")).toBe("public");
  expect(access.of("POST", "/healthz")).toBe("token_or_session");
  expect(access.of("GET", "/api/v1/requests")).toBe("token_or_session");
  expect(access.of("GET", "/ws")).toBe("token_or_session");
  expect(access.of("POST", "/api/v1/dashboard/code")).toBe("token");
  expect(access.of("GET", undefined)).toBe("token_or_session");
  expect(access.of("GET", "/swagger")).toBe("token");
  // The list grows (lazily loaded modules): the table follows.
  routes.push({ method: "GET", path: "/swagger", hooks: { detail: PUBLIC } });
  expect(access.of("GET", "/swagger")).toBe("public");
});

test("the access macro puts the route's declaration into its detail (its OpenAPI security), where the security layer reads it", async () => {
  const { Elysia } = await import("elysia");
  const { access } = await import("./access.ts");
  const app = new Elysia()
    .use(access)
    .get("/open", () => "", { access: "public", detail: { summary: "open" } })
    .post("/mint", () => "", { access: "token" })
    .get("/private", () => "");
  const table = new RouteAccess(() => app.routes);
  expect([table.of("GET", "/open"), table.of("POST", "/mint"), table.of("GET", "/private")]).toEqual(["public", "token", "token_or_session"]);
  expect(app.routes.find((r) => r.path === "/open")?.hooks?.detail).toEqual({ summary: "open", security: [] });
});

// Node-to-node signatures: valid ones pass; another secret, another target, method or node, an old time or junk fail.
import { expect, test } from "bun:test";
import { signNodeRequest, verifyNodeRequest } from "./node-auth.ts";

const secret = new TextEncoder().encode("s".repeat(40));
const other = new TextEncoder().encode("t".repeat(40));
const now = 1_800_000_000_000;

test("a signature verifies for exactly the request it was made for", () => {
  const h = signNodeRequest(secret, "node-a", "POST", "/internal/t/alice/api/chat?x=1", now);
  expect(verifyNodeRequest(secret, h, "post", "/internal/t/alice/api/chat?x=1", now + 1000)).toEqual({ ok: true, node: "node-a" });
  const bad = (r: ReturnType<typeof verifyNodeRequest>) => (r.ok ? "ok" : r.reason);
  expect(bad(verifyNodeRequest(other, h, "POST", "/internal/t/alice/api/chat?x=1", now))).toMatch(/bad signature/);
  expect(bad(verifyNodeRequest(secret, h, "POST", "/internal/t/bob/api/chat?x=1", now))).toMatch(/bad signature/);
  expect(bad(verifyNodeRequest(secret, h, "GET", "/internal/t/alice/api/chat?x=1", now))).toMatch(/bad signature/);
  expect(bad(verifyNodeRequest(secret, h.replace("node-a", "node-b"), "POST", "/internal/t/alice/api/chat?x=1", now))).toMatch(/bad signature/);
  expect(bad(verifyNodeRequest(secret, h, "POST", "/internal/t/alice/api/chat?x=1", now + 31_000))).toMatch(/stale/);
  expect(bad(verifyNodeRequest(secret, null, "POST", "/x", now))).toMatch(/missing/);
  expect(bad(verifyNodeRequest(secret, "node-a.abc.def", "POST", "/x", now))).toMatch(/malformed/);
});

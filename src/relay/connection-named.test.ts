import { expect, test } from "bun:test";
import { dropConnectionNamed } from "./connection-named.ts";

test("the fields a Connection header names are dropped; framing and the rest stay", () => {
  const h = new Headers({ connection: "keep-alive, X-Secret ,x-trace", "x-secret": "s", "x-trace": "t", "x-other": "o", "content-length": "3" });
  dropConnectionNamed(h);
  expect(h.has("x-secret")).toBe(false);
  expect(h.has("x-trace")).toBe(false);
  expect(h.get("x-other")).toBe("o");
  expect(h.get("content-length")).toBe("3");
});

test("Connection: keep-alive or close, or none, leaves every header", () => {
  for (const c of ["keep-alive", "Close", null]) {
    const h = new Headers({ "x-a": "1", ...(c ? { connection: c } : {}) });
    dropConnectionNamed(h);
    expect(h.get("x-a")).toBe("1");
  }
});

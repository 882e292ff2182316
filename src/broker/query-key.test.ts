// The query-key check on its own: what counts as a gateway key in a query (as the header scan finds one), and what the refusal says.
import { expect, test } from "bun:test";
import { queryKeyRefusal } from "./query-key.ts";

const KEY = "c2l_" + "A".repeat(43);

test("a c2l_ token anywhere in the query, as a value, a bare parameter or escaped, is refused naming its parameter, never quoting the key", () => {
  for (const [q, named] of [
    [`?key=${KEY}`, "?key=c2l_…"],
    [`?a=1&api_key=${KEY}`, "?api_key=c2l_…"],
    [`?${KEY}`, "c2l_…"],
    [`?key=%632l%5f${KEY.slice(4)}`, "?key=c2l_…"],
    [`?key=Bearer+${KEY}`, "?key=c2l_…"],
  ] as const) {
    const e = queryKeyRefusal(q);
    expect({ q, code: e?.code }).toEqual({ q, code: "bad_request" });
    expect(e!.message).toContain(named);
    expect(e!.message).not.toContain("AAAA");
  }
});

test("no key: other queries, a c2l_ inside another word, a malformed escape", () => {
  for (const q of ["?api-version=2024-10-21", "?beta=true", "?model=abc2l_x", "?x=%zz", "?name=c2l", "?"]) expect({ q, e: queryKeyRefusal(q) }).toEqual({ q, e: null });
});

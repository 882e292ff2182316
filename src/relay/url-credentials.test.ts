// The relay's refusal of a credential in a call's query: every spelling found, the value never quoted, other queries pass.
import { expect, test } from "bun:test";
import { hashToken } from "./auth.ts";
import { UrlCredentials } from "./url-credentials.ts";

const CLIENT = "qHmj4FSd-client-key_0123456789";
const AGENT = "agent-token-9876543210";
const ADMIN = "admin+token/with=padding==";
const creds = new UrlCredentials({ admin_token_sha256: hashToken(ADMIN), tunnels: [{ agent_token_sha256: hashToken(AGENT), client_key_sha256: [hashToken(CLIENT)] }, { client_key_sha256: [] }] });
const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
const GATEWAY = "c2l_" + "A".repeat(43);
const pct = (s: string) => [...s].map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join("");

test("our credentials in the query are refused in every spelling, naming the parameter, never the value", () => {
  const cases: [string, string][] = [
    [`?x=${CLIENT}`, "?x=…"],
    [`?api_key=${pct(CLIENT)}`, "?api_key=…"],
    [`?a=1&auth=${encodeURIComponent(pct(CLIENT))}`, "?auth=…"],
    [`?h=Bearer%20${CLIENT}`, "?h=…"],
    [`?h=Bearer+${CLIENT}`, "?h=…"],
    [`?creds=${encodeURIComponent(JSON.stringify({ key: CLIENT }))}`, "?creds=…"],
    [`?basic=user:${CLIENT}`, "?basic=…"],
    [`?k=${AGENT}`, "?k=…"],
    [`?k=${encodeURIComponent(ADMIN)}`, "?k=…"],
    [`?${CLIENT}`, "as a parameter's name"],
    [`?${pct(CLIENT)}=1`, "as a parameter's name"],
    [`?${ADMIN}`, "in a parameter"],
    [`?a=${JWT}`, "?a=…"],
    [`?a=${pct(JWT)}`, "?a=…"],
    [`?key=${GATEWAY}`, "?key=…"],
    [`?key=%632l_${"A".repeat(43)}`, "?key=…"],
    // Punctuation that is no separator of ours around a key: still the key (a sentence's period, a dot, an address).
    [`?note=my%20key%20is%20${CLIENT}.`, "?note=…"],
    [`?n=x.${CLIENT}`, "?n=…"],
    [`?n=${CLIENT}@relay.example.com`, "?n=…"],
    [`?n=~${CLIENT}!`, "?n=…"],
    [`?n=*${AGENT}*`, "?n=…"],
  ];
  for (const [search, where] of cases) {
    const err = creds.refusal(search);
    expect({ search, code: err?.code, where: err?.message.includes(`(${where})`) }).toEqual({ search, code: "bad_request", where: true });
    for (const secret of [CLIENT, AGENT, ADMIN, JWT, GATEWAY]) expect(err!.message).not.toContain(secret);
  }
});

test("the names a token rides in are refused whatever they hold, in any case or escape", () => {
  for (const search of ["?access_token=x", "?TOKEN=1", "?a=1&id_token=", "?jw%74=abc", "?Jwt"]) {
    const err = creds.refusal(search);
    expect({ search, code: err?.code }).toEqual({ search, code: "bad_request" });
    expect(err!.message).toContain("a token in the URL (?");
  }
});

test("other queries pass: no credential of ours, a token another tunnel's key is not part of, c2l_ inside a word", () => {
  for (const search of ["?", "?stream=true", "?tunnel=a-home", "?model=llama3.2%3A1b&keep_alive=5m", `?x=${CLIENT.slice(0, -1)}`, `?x=prefix${CLIENT}`, "?x=abc2l_def", "?x=eyJ.only", "?x=%zz"]) expect({ search, err: creds.refusal(search) }).toEqual({ search, err: null });
});

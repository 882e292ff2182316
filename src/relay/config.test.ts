// The relay's config: defaults, clear errors with file:line:column, cross-field rules; hashed tokens and JWT-free auth.
import { expect, test } from "bun:test";
import { formatIssue, parseRelayConfig } from "./config.ts";
import { hashToken, RelayAuth, subjectTunnelId } from "./auth.ts";

const H = hashToken("tok-123456");

test("a minimal config gets its defaults", () => {
  const r = parseRelayConfig(`[[tunnels]]\nid = "a"\nagent_token_sha256 = "${H}"\n`);
  expect(r.ok).toBe(true);
  if (!r.ok) return;
  expect(r.config.listen).toBe("127.0.0.1:8080");
  expect(r.config.heartbeat).toEqual({ interval: "10s", tolerance: "15s" });
  expect(r.config.limits.max_streams).toBe(64);
  expect(r.config.tunnels[0]!.client_key_sha256).toEqual([]);
  // The defaults docs/relay.md and docs/relay-cluster.md name in their prose (Behaviour worth knowing, Replacing a node).
  expect([r.config.resume_window, r.config.go_away_grace, r.config.handshake_timeout, r.config.limits.idle_timeout, r.config.cluster.drain_delay]).toEqual(["60s", "30s", "10s", "30s", "2s"]);
});

test("errors name the file, line, field and what is wrong", () => {
  const cases: [string, RegExp][] = [
    [`listen = "nope"`, /relay.toml:1:\d+: listen: "nope" is not a listen address/],
    [`[tls]\ncert_file = "a.pem"`, /tls.key_file: tls needs both cert_file and key_file/],
    [`[[tunnels]]\nid = "a"\nagent_token_sha256 = "plain-text-token"`, /tunnels\[0\].agent_token_sha256/],
    [`[[tunnels]]\nid = "a"\nagent_token_sha256 = "${H}"\n[[tunnels]]\nid = "b"\nagent_token_sha256 = "${H}"`, /each token maps to one tunnel/],
    [`[heartbeat]\ninterval = "20s"`, /must be longer than heartbeat.interval/],
    [`first_byte_timeout = "0s"`, /relay.toml:1:1: first_byte_timeout: "0s" is below the minimum 100ms: every request would time out before its answer could start/],
    [`[oidc]\nissuer = "https://id.example"`, /audience is required/],
    [`lsiten = "127.0.0.1:1"`, /unknown key "lsiten".*did you mean "listen"/],
    [`listen = `, /relay.toml:1:\d+/],
  ];
  for (const [text, re] of cases) {
    const r = parseRelayConfig(text, "relay.toml");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues.map(formatIssue).join("\n")).toMatch(re);
  }
});

test("a token pasted where its hash goes (the other line `relay hash-token --generate` prints) is not quoted by the error", () => {
  // base64url with - and _, as three in four generated tokens are: the error goes to the relay's log (the journal).
  const token = "qHmj4FSdQ1BCA6mZ4lm-hzxtyDVAE9V54S1C38JnlNM";
  const r = parseRelayConfig(`[[tunnels]]\nid = "a"\nagent_token_sha256 = "${token}"\nclient_key_sha256 = ["${token.replace("q", "Q")}"]\n`, "relay.toml");
  expect(r.ok).toBe(false);
  if (r.ok) return;
  const text = r.issues.map(formatIssue).join("\n");
  expect(text).toContain('tunnels[0].agent_token_sha256: "[redacted]" does not have the expected form');
  expect(text).toContain('tunnels[0].client_key_sha256[0]: "[redacted]"');
  expect(text).not.toContain("4FSdQ1BCA6mZ4lm");
});

test("static tokens are compared by hash; a JWT-looking token is refused without [oidc]", async () => {
  const r = parseRelayConfig(`admin_token_sha256 = "${hashToken("admin-xyz")}"\n[[tunnels]]\nid = "a"\nagent_token_sha256 = "${H}"\nclient_key_sha256 = ["${hashToken("client-1")}"]\n`);
  if (!r.ok) throw new Error("config");
  const auth = new RelayAuth(r.config);
  const req = (t?: string) => new Request("http://r/", { headers: t ? { authorization: `Bearer ${t}` } : {} });
  expect(await auth.agent(req("tok-123456"))).toEqual({ ok: true, tunnelId: "a", via: "token" });
  expect((await auth.agent(req("tok-1234567"))).ok).toBe(false);
  expect((await auth.agent(req())).ok).toBe(false);
  expect((await auth.agent(req("a.b.c"))).ok).toBe(false);
  expect((await auth.client(req("client-1"), "a")).ok).toBe(true);
  expect((await auth.client(req("client-1"), "b")).ok).toBe(false);
  expect((await auth.client(req("tok-123456"), "a")).ok).toBe(false); // an agent token is not a client key
  expect(auth.admin(req("admin-xyz"))).toBe(true);
  expect(auth.admin(req("admin-xy"))).toBe(false);
  // Token in the URL is never read.
  expect((await auth.agent(new Request("http://r/agent?token=tok-123456"))).ok).toBe(false);
});

test("subject tunnel ids are stable, distinct and URL-safe", () => {
  const a = subjectTunnelId("https://id", "auth0|a");
  expect(a).toBe(subjectTunnelId("https://id", "auth0|a"));
  expect(a).not.toBe(subjectTunnelId("https://id", "auth0-a"));
  expect(a).toMatch(/^u[0-9a-f]{24}$/);
});

test("one token in two roles is refused: a client key that is an agent token (its own tunnel's or another's) or the admin token, an admin token that is an agent token", () => {
  const A = hashToken("token-one-0123456789");
  const B = hashToken("token-two-0123456789");
  const C = hashToken("token-three-0123456789");
  const cases: [string, string][] = [
    [`[[tunnels]]\nid = "a"\nagent_token_sha256 = "${A}"\nclient_key_sha256 = ["${B}"]\n[[tunnels]]\nid = "b"\nagent_token_sha256 = "${C}"\nclient_key_sha256 = ["${A}"]`, "tunnels[1].client_key_sha256[0]: is the hash of tunnels[0]'s agent token too"],
    [`[[tunnels]]\nid = "a"\nagent_token_sha256 = "${A}"\nclient_key_sha256 = ["${B}", "${A}"]`, "tunnels[0].client_key_sha256[1]: is the hash of tunnels[0]'s agent token too"],
    [`admin_token_sha256 = "${B}"\n[[tunnels]]\nid = "a"\nagent_token_sha256 = "${A}"\nclient_key_sha256 = ["${B}"]`, "tunnels[0].client_key_sha256[0]: is the hash of the admin token too"],
    [`admin_token_sha256 = "${A}"\n[[tunnels]]\nid = "a"\nagent_token_sha256 = "${A}"`, "tunnels[0].agent_token_sha256: is the hash of the admin token too"],
  ];
  for (const [text, message] of cases) {
    const r = parseRelayConfig(text, "relay.toml");
    expect({ text, ok: r.ok }).toEqual({ text, ok: false });
    if (!r.ok) expect(r.issues.map(formatIssue).join("\n")).toContain(message);
  }
  // One client key for several tunnels is one role (a web app using each of them): still allowed.
  expect(parseRelayConfig(`[[tunnels]]\nid = "a"\nagent_token_sha256 = "${A}"\nclient_key_sha256 = ["${C}"]\n[[tunnels]]\nid = "b"\nagent_token_sha256 = "${B}"\nclient_key_sha256 = ["${C}"]`).ok).toBe(true);
});

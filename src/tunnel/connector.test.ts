// Classifying failed connection attempts: 401/403 are permanent, everything else retryable, and no URL query leaks.
import { expect, test } from "bun:test";
import { classifyUpgradeError, connect, startHandshake, type ConnectError } from "./connector.ts";

test("401 and 403 on the upgrade are permanent, other statuses and network errors are retryable", () => {
  expect(classifyUpgradeError("WebSocket connection to 'ws://r/agent' failed: Expected 101 status code: 401")).toMatchObject({ code: "unauthorized", permanent: true });
  expect(classifyUpgradeError("WebSocket connection to 'ws://r/agent' failed: Expected 101 status code: 403")).toMatchObject({ code: "forbidden", permanent: true });
  expect(classifyUpgradeError("WebSocket connection to 'ws://r/agent' failed: Expected 101 status code: 502")).toMatchObject({ code: "http_error", permanent: false });
  // No agent endpoint at that path: retrying cannot help, the URL must change.
  expect(classifyUpgradeError("WebSocket connection to 'ws://r/' failed: Expected 101 status code: 404")).toMatchObject({ code: "not_found", permanent: true });
  expect(classifyUpgradeError("WebSocket connection to 'ws://r/agent' failed: connection refused")).toMatchObject({ code: "network", permanent: false });
  expect(classifyUpgradeError("TLS handshake failed: unable to verify the first certificate").message).toMatch(/ca_file/);
});

test("a certificate for another name, or an expired one, is named as such: no CA hint, which could not fix it", () => {
  const wss = "WebSocket connection to 'wss://relay.example.com/agent' failed: TLS handshake failed: ";
  for (const caFile of [undefined, "/etc/c2l/ca.pem"]) {
    const name = classifyUpgradeError(`${wss}Hostname/IP does not match certificate's altnames`, caFile);
    expect(name.message).toMatch(/TLS verification of the relay failed .*the relay's certificate is not for the host in \[tunnel\] relay_url: use a name the certificate lists$/);
    expect(name.message).not.toContain("ca_file");
    const expired = classifyUpgradeError(`${wss}certificate has expired`, caFile);
    expect(expired.message).toMatch(/the relay's certificate has expired: it must be renewed on the relay$/);
    expect(expired.message).not.toContain("ca_file");
  }
  // An unknown CA still gets the CA hint.
  expect(classifyUpgradeError(`${wss}self signed certificate in certificate chain`).message).toMatch(/set \[tunnel\] ca_file/);
});

test("error messages never carry the URL's query (bridge-v1 puts the token there)", () => {
  for (const m of ["failed: Expected 101 status code: 502", "failed: connection refused"]) {
    const e = classifyUpgradeError(`WebSocket connection to 'wss://x/ws/bridge?token=abc.def.ghi' ${m}`);
    expect(e.message).not.toContain("abc.def.ghi");
  }
  expect(classifyUpgradeError("WebSocket connection to 'wss://x/ws/bridge?token=abc' failed: refused").message).toContain("wss://x/ws/bridge");
});

test("with ca_file set, a TLS failure names the file and the system store, and does not ask to set ca_file", () => {
  const e = classifyUpgradeError("TLS handshake failed: unable to verify the first certificate", "/etc/c2l/private-ca.pem");
  expect(e).toMatchObject({ code: "network", permanent: false });
  expect(e.message).toContain("[tunnel] ca_file (/etc/c2l/private-ca.pem)");
  expect(e.message).toContain("system store");
  expect(e.message).not.toMatch(/set \[tunnel\] ca_file/);
});

test("a relay that cannot be reached says why: a refused port, a name that does not resolve; never the URL's query", async () => {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = s.port!;
  s.stop(true);
  const attempt = (url: string) =>
    connect({ url, token: "t-123456789", agent: "test", heartbeatMs: 1000, toleranceMs: 3000, maxStreams: 8, onStream: () => {} }).then(
      () => "connected",
      (e: ConnectError) => `${e.code}: ${e.message}`,
    );
  expect(await attempt(`ws://127.0.0.1:${port}/agent?token=hunter2`)).toBe(`network: cannot reach the relay at 127.0.0.1:${port}: connection refused (nothing listens on that port) (ECONNREFUSED)`);
  const dns = await attempt("ws://no-such-host.invalid:8080/agent?token=hunter2");
  expect(dns).toMatch(/^network: cannot reach the relay at no-such-host\.invalid:8080: host name (does not resolve|could not be resolved now) \(DNS\)/);
  expect(dns).not.toContain("hunter2");
});

test("the system's code in Bun's WebSocket error event names the cause: no route (a laptop whose address is gone) is said as such, not as a refused port, and the URL's query stays out", async () => {
  // Nothing listens on this port: a TCP probe of it would say ECONNREFUSED, the words the event's code must win over.
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = s.port!;
  s.stop(true);
  const ws = { url: `ws://127.0.0.1:${port}/agent?token=hunter2`, close() {}, onerror: null as ((ev: unknown) => void) | null } as unknown as WebSocket;
  const failed = new Promise<ConnectError>((resolve) => startHandshake(ws, resolve, 5_000, "timeout"));
  ws.onerror!({ message: `WebSocket connection to '${ws.url}' failed: Failed to connect`, error: Object.assign(new Error("Failed to connect"), { code: "ENETUNREACH" }) } as unknown as Event);
  const e = await failed;
  expect(`${e.code}: ${e.message}`).toBe(`network: cannot reach the relay at 127.0.0.1:${port}: network unreachable (this machine has no route to that address) (ENETUNREACH)`);
});

// Unit tests for the one Host parser: exact IP literals, loopback, localhost names, configured names, and the rebinding names refused.
import { describe, expect, test } from "bun:test";
import { hostHeaderAllowed, hostSet, isLoopbackHost, parseHost, parseIpv4, parseIpv6 } from "./host.ts";

const NONE = new Set<string>();

describe("DNS-rebinding names are refused (issue 12 item 4)", () => {
  const attacks = [
    "127.evil.example",
    "127.0.0.1.nip.io",
    "127.0.0.1.nip.io:11435",
    "127.0.0.1.evil",
    "127.0.0.1.",
    "127.1",
    "0x7f.0.0.1",
    "0177.0.0.1",
    "2130706433",
    "127.0.0.01",
    "127.0.0.256",
    "localhost.evil.example",
    "evil-localhost",
    "evil.example",
    "127.0.0.1@evil.example",
    "evil.example#127.0.0.1",
    "127.0.0.1 evil.example",
    "[::1].evil.example",
    "[127.0.0.1]",
    "[::2]",
    "[::ffff:8.8.8.8]",
    "127.0.0.1:abc",
    "127.0.0.1:99999",
    "",
  ];
  for (const h of attacks) test(JSON.stringify(h), () => expect(hostHeaderAllowed(h, NONE)).toBe(false));
});

describe("loopback literals and localhost are accepted", () => {
  const good = ["127.0.0.1", "127.0.0.1:11435", "127.9.8.7", "localhost", "LOCALHOST:8765", "localhost.", "app.localhost", "[::1]", "[::1]:8765", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]", "[::FFFF:7f00:1]:1"];
  for (const h of good) test(JSON.stringify(h), () => expect(hostHeaderAllowed(h, NONE)).toBe(true));
});

test("configured names (and addresses) are accepted in any case, with any port; nothing else is", () => {
  const configured = hostSet(["Box.LAN", "192.168.7.7", "::5", "bad name", "[fe80::1]"]);
  for (const h of ["box.lan", "BOX.lan:8765", "box.lan.", "192.168.7.7:1", "[::5]", "[0::5]:80", "[fe80::1]"]) expect({ h, ok: hostHeaderAllowed(h, configured) }).toEqual({ h, ok: true });
  for (const h of ["box.lan.evil.example", "evil.box.lan", "192.168.7.8", "192.168.7.7.", "192.168.7.7.:80", "bad name", "[::6]"]) expect({ h, ok: hostHeaderAllowed(h, configured) }).toEqual({ h, ok: false });
});

test("IP literals are parsed exactly", () => {
  expect(parseIpv4("127.0.0.1")).toEqual([127, 0, 0, 1]);
  for (const s of ["127.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "0x7f.0.0.1", "1.2.3.4 "]) expect(parseIpv4(s)).toBeNull();
  expect(parseIpv6("::1")).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
  expect(parseIpv6("::ffff:127.0.0.1")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
  expect(parseIpv6("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  expect(parseIpv6("1:2:3:4:5:6:1.2.3.4")).toEqual([1, 2, 3, 4, 5, 6, 0x102, 0x304]);
  expect(parseIpv6("fe80::")).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 0]);
  for (const s of ["1:2:3:4:5:6:7", "1::2::3", ":::1", "1:2:3:4:5:6:7:8:9", "::12345", "g::1", "::1.2.3", "1:2:3:4:5:6:7:1.2.3.4"]) expect({ s, v: parseIpv6(s) }).toEqual({ s, v: null });
  expect(parseHost("[::1]:8765")).toEqual({ host: "0:0:0:0:0:0:0:1", kind: "ipv6", port: 8765 });
  expect(parseHost("127.0.0.1.nip.io")).toEqual({ host: "127.0.0.1.nip.io", kind: "name", port: null });
  // A dotted quad with a trailing dot is neither the address nor a name "127.0.0.1" (which a configured address matched).
  expect(parseHost("127.0.0.1.")).toBeNull();
  expect(parseHost("box.lan.")).toEqual({ host: "box.lan", kind: "name", port: null });
});

test("isLoopbackHost (listen addresses, issuer URLs) parses instead of matching a prefix", () => {
  for (const h of ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "dev.localhost"]) expect({ h, v: isLoopbackHost(h) }).toEqual({ h, v: true });
  for (const h of ["127.evil.example", "127.0.0.1.nip.io", "0.0.0.0", "::", "192.168.1.1", "localhost.evil.example", "127.0.0.1:80"]) expect({ h, v: isLoopbackHost(h) }).toEqual({ h, v: false });
});

test("a spelling parsed before answers the same, frozen; a flood of different names leaves every answer right", () => {
  const a = parseHost("LocalHost:8080");
  expect(parseHost("LocalHost:8080")).toBe(a!);
  expect(Object.isFrozen(a)).toBe(true);
  expect(parseHost("nope nope")).toBeNull();
  for (let i = 0; i < 2000; i++) expect(parseHost(`host-${i}.example:${1000 + i}`)).toEqual({ host: `host-${i}.example`, kind: "name", port: 1000 + i });
  expect(parseHost("LocalHost:8080")).toEqual({ host: "localhost", kind: "name", port: 8080 });
  expect(parseHost("nope nope")).toBeNull();
});

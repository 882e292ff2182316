// Unit tests for config parsing and validation: defaults, the commented default file, and every kind of error with its position.
import { KIND_NAMES } from "../kinds/index.ts";
import { describe, expect, test } from "bun:test";
import { defaultConfig, EMPTY_CONFIG_MESSAGE, formatIssue, MAX_CONFIG_BYTES, parseConfig, validateConfig } from "./load.ts";
import { defaultConfigText } from "./render.ts";
import { editDistance, suggest } from "./validate.ts";

function issues(text: string) {
  const r = parseConfig(text, "t.toml");
  if (r.ok) throw new Error("expected the config to be rejected");
  return r.issues;
}
function one(text: string) {
  const all = issues(text);
  expect(all).toHaveLength(1);
  return all[0]!;
}

describe("schema defaults", () => {
  test("a config that leaves everything out gives every default", () => {
    const r = validateConfig({}, "t.toml");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config).toEqual(defaultConfig());
    expect(r.config.api.listen).toBe("127.0.0.1:8765");
    expect(r.config.proxy.listen).toBe("127.0.0.1:11435");
    expect(r.config.upstreams).toEqual([expect.objectContaining({ name: "local", kind: "ollama", url: "http://127.0.0.1:11434", priority: 100, enabled: true })]);
    expect(r.config.health).toEqual({ interval: "10s", down_interval: "30s", timeout: "3s", failures_before_down: 3 });
    expect(r.config.tunnel.enabled).toBe(false);
    expect(r.config.tunnel.backoff).toEqual({ initial: "1s", max: "60s", multiplier: 2, jitter: 0.2, reset_after: "30s" });
    expect(r.config.logging.level).toBe("info");
  });

  test("a partial section keeps the defaults of the keys it leaves out", () => {
    const r = parseConfig('[[upstreams]]\nname = "gpu"\nurl = "http://10.0.0.2:11434"\n[tunnel.backoff]\nmax = "2m"\n');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.upstreams[0]).toMatchObject({ name: "gpu", kind: "ollama", priority: 100, connect_timeout: "5s" });
    expect(r.config.tunnel.backoff).toEqual({ initial: "1s", max: "2m", multiplier: 2, jitter: 0.2, reset_after: "30s" });
  });

  test("the commented default file parses back to the defaults and describes every key", () => {
    const text = defaultConfigText();
    const r = parseConfig(text);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.config).toEqual(defaultConfig());
    expect(text).toContain("# Address of the control API");
    expect(text).toContain("# Time between health checks of an upstream that is up.");
    expect(text).toContain("[[upstreams]]");
    expect(text).toContain("[tunnel.backoff]");
    // The kind's enum is the kinds table's (src/kinds/index.ts).
    expect(text.replace(/\n# /g, " ")).toContain(`One of ${KIND_NAMES.map((k) => `"${k}"`).join(", ")}.`);
  });
});

describe("a file that sets nothing, or far too much", () => {
  // A truncated save used to be applied as all defaults: the API and broker moved to the default ports and the upstreams were swapped.
  for (const [what, text] of [
    ["an empty file", ""],
    ["whitespace only", "  \n\t\n\r\n"],
    ["comments only", "# cloudtolocalllm-tunnel configuration\n\n# [api]\n# listen = \"127.0.0.1:8765\"\n"],
    ["empty tables only", "[api]\n\n[proxy]\n# listen = \"127.0.0.1:11435\"\n[tunnel.backoff]\n"],
  ] as const) {
    test(`${what} is rejected, saying how to reset on purpose`, () => {
      const i = one(text);
      expect(i.message).toBe(EMPTY_CONFIG_MESSAGE);
      expect(i.message).toContain("delete the file and restart the daemon");
      expect(i.message).toContain("config restore");
      expect(formatIssue(i)).toStartWith("t.toml: the file sets nothing");
    });
  }

  test("one real setting is enough: the rest defaults", () => {
    const r = parseConfig('# only the log level\n[logging]\nlevel = "debug"\n', "t.toml");
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.config).toEqual({ ...defaultConfig(), logging: { ...defaultConfig().logging, level: "debug" } });
  });

  test(`a file over ${MAX_CONFIG_BYTES} bytes is rejected before it is parsed, naming its size and the limit`, () => {
    const huge = '[logging]\nlevel = "info"\n' + "# padding padding padding padding padding padding padding padding\n".repeat(Math.ceil((50 * 1024 * 1024) / 66));
    const i = one(huge);
    expect(i.message).toMatch(/^the file is 50(\.\d)? MiB; a config file may be at most 1 MiB/);
    // Right at the limit is still fine.
    const atLimit = '[logging]\nlevel = "info"\n' + "#".repeat(MAX_CONFIG_BYTES - 26) + "\n";
    expect(Buffer.byteLength(atLimit)).toBe(MAX_CONFIG_BYTES);
    expect(parseConfig(atLimit, "t.toml").ok).toBe(true);
    expect(one(atLimit + "#").message).toContain("at most 1 MiB");
  });
});

describe("validation errors", () => {
  test("a syntax error carries line and column", () => {
    const i = one('[api]\nlisten = "127.0.0.1:8765\n');
    expect(i.line).toBe(2);
    expect(i.column).toBeGreaterThan(1);
    expect(formatIssue(i)).toMatch(/^t\.toml:2:\d+: /);
  });

  test("an unknown key is an error with a suggestion and the key's position", () => {
    const i = one('[api]\n\n  lisen = "127.0.0.1:8765"\n');
    expect(i).toMatchObject({ path: "api.lisen", line: 3, column: 3 });
    expect(i.message).toBe('unknown key "lisen" in [api] (did you mean "listen"?)');
    expect(one("[tunel]\nenabled = false\n").message).toBe("unknown section [tunel] (did you mean [tunnel]?)");
    expect(one('[[upstreams]]\nname = "a"\nurl = "http://x"\nprority = 1\n')).toMatchObject({
      path: "upstreams[0].prority",
      line: 4,
      message: 'unknown key "prority" in [upstreams] (did you mean "priority"?)',
    });
    expect(one("[logging]\ncompletely_different = 1\n").message).toBe('unknown key "completely_different" in [logging]');
  });

  test("a bad port says so, at its line", () => {
    const i = one('# x\n[proxy]\nlisten = "127.0.0.1:99999"\n');
    expect(i).toMatchObject({ path: "proxy.listen", line: 3, column: 1 });
    expect(i.message).toBe('"127.0.0.1:99999": port 99999 is out of range (0-65535)');
    expect(one('[api]\nlisten = "localhost"\n').message).toBe('"localhost" is not a listen address (use host:port, e.g. 127.0.0.1:8765)');
  });

  test("a bad URL says what was expected", () => {
    const i = one('[[upstreams]]\nname = "a"\nurl = "htp://x"\n');
    expect(formatIssue(i)).toBe('t.toml:3:1: upstreams[0].url: "htp://x" is not a URL (expected http:// or https://)');
    expect(one('[[upstreams]]\nname = "a"\nurl = "ws://x"\n').message).toBe('"ws://x" is not a URL (expected http:// or https://)');
    // A query is a URL's own part (merged onto every request: src/net/upstream-url.ts).
    expect(parseConfig('[[upstreams]]\nname = "a"\nurl = "http://x/openai?api-version=2024-10-21"\n', "t.toml").ok).toBe(true);
  });

  test("a web address as relay_url suggests the agent's WebSocket URL", () => {
    expect(one('[tunnel]\nrelay_url = "https://relay.example.com"\n').message).toBe('"https://relay.example.com" is not a relay agent URL: use "wss://relay.example.com/agent" (wss:// or ws://, the relay\'s agent path)');
    expect(one('[tunnel]\nrelay_url = "http://10.0.0.5:8443/agent"\n').message).toContain('use "ws://10.0.0.5:8443/agent"');
    expect(one('[tunnel]\nrelay_url = "relay.example.com"\n').message).toContain('use "wss://relay.example.com/agent"');
  });

  test("a ws:// relay_url to another machine is refused (the token would cross the network in cleartext) unless allow_plaintext_relay opts in", () => {
    const i = one('[tunnel]\nrelay_url = "ws://relay.example.com:8080/agent"\n');
    expect(i).toMatchObject({ path: "tunnel.relay_url" });
    expect(i.message).toBe(
      "ws://relay.example.com:8080 is not encrypted: the agent token and every prompt and answer would cross the network in cleartext; use wss://relay.example.com:8080/agent (the relay's [tls], or a TLS proxy in front of it), or set [tunnel] allow_plaintext_relay = true for a network you trust end to end",
    );
    // A token in the URL is not shown.
    expect(one('[tunnel]\nrelay_url = "ws://10.0.0.5/agent?token=hunter2"\n').message).not.toContain("hunter2");
    for (const host of ["10.0.0.5", "[fd00::5]", "127.0.0.1.nip.io", "localhost.example.com"]) expect(issues(`[tunnel]\nrelay_url = "ws://${host}/agent"\n`).map((x) => x.path)).toEqual(["tunnel.relay_url"]);
    // This machine, wss://, or the opt-in: accepted.
    for (const url of ["ws://127.0.0.1:8080/agent", "ws://localhost/agent", "ws://[::1]:9/agent", "ws://127.5.0.1/agent", "wss://relay.example.com/agent"]) expect(parseConfig(`[tunnel]\nrelay_url = "${url}"\n`, "t.toml").ok).toBe(true);
    expect(parseConfig('[tunnel]\nrelay_url = "ws://10.0.0.5/agent"\nallow_plaintext_relay = true\n', "t.toml").ok).toBe(true);
  });

  test("a duration under its field's floor is refused, naming the field, its line and the minimum: a health check every millisecond, a timeout of 0s", () => {
    const cases: [string, string, string][] = [
      ['[health]\ninterval = "1ms"\n', "health.interval", '"1ms" is below the minimum 100ms: closer health checks would hammer the upstream'],
      ['[health]\ndown_interval = "99ms"\n', "health.down_interval", '"99ms" is below the minimum 100ms: closer health checks would hammer the upstream'],
      ['[health]\ntimeout = "0s"\n', "health.timeout", '"0s" is below the minimum 100ms: every health check would time out before its answer could arrive'],
      ['[[upstreams]]\nname = "a"\nurl = "http://x"\nfirst_byte_timeout = "0s"\n', "upstreams[0].first_byte_timeout", '"0s" is below the minimum 100ms: every request would time out before its answer could start'],
      ['[[upstreams]]\nname = "a"\nurl = "http://x"\nconnect_timeout = "0.01s"\n', "upstreams[0].connect_timeout", '"0.01s" is below the minimum 100ms: every connection would time out before it could open'],
    ];
    for (const [text, path, message] of cases) expect(one(text)).toMatchObject({ path, message, line: text.split("\n").length - 1 });
    // The floor itself, and the relay's first_byte_timeout of 300ms its tests use, are accepted.
    expect(parseConfig('[health]\ninterval = "100ms"\ndown_interval = "0.1s"\ntimeout = "100ms"\n[[upstreams]]\nname = "a"\nurl = "http://x"\nfirst_byte_timeout = "100ms"\nconnect_timeout = "100ms"\n', "t.toml").ok).toBe(true);
  });

  test("a bad duration suggests the form", () => {
    const i = one('[health]\ninterval = "10 seconds"\n');
    expect(i).toMatchObject({ path: "health.interval", line: 2 });
    expect(i.message).toBe('"10 seconds" is not a duration (use e.g. 250ms, 30s, 5m, 1h)');
    expect(one('[tunnel.backoff]\ninitial = 5\n').message).toBe("expected a string, got 5");
  });

  test("types, enums, ranges and missing keys read as sentences", () => {
    expect(one('[logging]\nlevel = "verbose"\n').message).toBe('"verbose" is not one of "debug", "info", "warn", "error"');
    expect(one("[proxy]\nmax_attempts = 0\n").message).toBe("0 is below the minimum 1");
    expect(one('[proxy]\nmax_attempts = "3"\n').message).toBe('expected a whole number, got "3"');
    expect(one('[health]\ninterval = "0s"\n')).toMatchObject({ path: "health.interval", message: '"0s" is below the minimum 100ms: closer health checks would hammer the upstream' });
    expect(one('[health]\ndown_interval = "0ms"\n')).toMatchObject({ path: "health.down_interval" });
    const missing = one('[[upstreams]]\nname = "a"\n');
    expect(missing).toMatchObject({ path: "upstreams[0].url", line: 1, message: 'missing required key "url"' });
  });

  test("[upstreams] with one bracket pair is caught, not silently replaced by the default list", () => {
    expect(one('[upstreams]\nname = "a"\nurl = "http://x"\n')).toMatchObject({
      path: "upstreams",
      line: 1,
      message: "expected a list of tables: write [[upstreams]] (two brackets) for each entry",
    });
  });

  test("every problem is reported, in file order", () => {
    const all = issues('[api]\nlisten = "x:1:2"\n[health]\ntimeout = "soon"\nbogus = 1\n');
    expect(all.map((i) => [i.path, i.line])).toEqual([
      ["api.listen", 2],
      ["health.timeout", 4],
      ["health.bogus", 5],
    ]);
  });

  test("rules across fields point at the field they name", () => {
    const dup = one('[[upstreams]]\nname = "a"\nurl = "http://x"\n\n[[upstreams]]\nname = "a"\nurl = "http://y"\n');
    expect(dup).toMatchObject({ path: "upstreams[1].name", line: 6, column: 1 });
    expect(dup.message).toContain("names must be unique");
    const tun = one("[tunnel]\n\nenabled = true\n");
    expect(tun).toMatchObject({ path: "tunnel.enabled", line: 3 });
    expect(tun.message).toContain("tunnel.relay_url is empty");
    expect(one('[api]\nlisten = "127.0.0.1:9000"\n[proxy]\nlisten = "127.0.0.1:9000"\n')).toMatchObject({ path: "proxy.listen", line: 4 });
    expect(one('[tunnel.backoff]\ninitial = "2m"\nmax = "1m"\n')).toMatchObject({ path: "tunnel.backoff.max", line: 3 });
    expect(one('[tunnel.heartbeat]\ninterval = "20s"\ntolerance = "15s"\n')).toMatchObject({ path: "tunnel.heartbeat.tolerance", line: 3 });
    // A CA to trust and certificate checks off at once: one of them would be ignored, silently.
    const tls = one('[[upstreams]]\nname = "a"\nurl = "https://x"\nca_file = "/etc/ca.pem"\ntls_insecure = true\n');
    expect(tls).toMatchObject({ path: "upstreams[0].tls_insecure", line: 5 });
    expect(tls.message).toContain("ca_file would not be used");
  });

  test("the API and the broker on one port are refused for every spelling of the same socket: the IPv6 wildcard [::] covers 127.0.0.1 as 0.0.0.0 does", () => {
    for (const [api, proxy] of [
      ["127.0.0.1:9000", "[::]:9000"],
      ["[::]:9000", "127.0.0.1:9000"],
      ["[::1]:9000", "[0:0:0:0:0:0:0:1]:9000"],
      ["127.0.0.1:9000", "0.0.0.0:9000"],
    ])
      expect({ api, proxy, issue: one(`[api]\nlisten = "${api}"\n[proxy]\nlisten = "${proxy}"\n`).path }).toEqual({ api, proxy, issue: "proxy.listen" });
    // Two loopback addresses, or two ports, are two sockets.
    expect(parseConfig('[api]\nlisten = "127.0.0.1:9000"\n[proxy]\nlisten = "[::1]:9000"\n').ok).toBe(true);
    expect(parseConfig('[api]\nlisten = "[::]:9000"\n[proxy]\nlisten = "[::]:9001"\n').ok).toBe(true);
  });

  test("validateConfig works on an already parsed object (no positions)", () => {
    const r = validateConfig({ api: { listen: "127.0.0.1:1", lisen: 1 } }, "api");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues[0]).toMatchObject({ file: "api", path: "api.lisen" });
      expect(r.issues[0]!.line).toBeUndefined();
    }
  });
});

test("suggestions use edit distance and stay quiet when nothing is close", () => {
  expect(editDistance("kitten", "sitting")).toBe(3);
  expect(suggest("intervall", ["interval", "timeout"])).toBe("interval");
  expect(suggest("xyz", ["interval", "timeout"])).toBeUndefined();
});

test("a credential pasted into the wrong field is not quoted by the issue (it reaches the log, status and notifications)", () => {
  const key = "sk-proj-Abcdefghij0123456789XYZ";
  const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlMTIz";
  // A gateway key with few capitals and digits (newKey() makes one about once in 5,000), which the shape rules missed.
  const gateway = "c2l_abcdefghijklmnopqrstuvwxyz-abcdefghijklmn";
  const texts = [
    `[tunnel]\nrelay_url = "${key}"\n`,
    `[tunnel]\nrelay_url = "${gateway}"\n`,
    `[[upstreams]]\nname = "cloud"\nurl = "${gateway}"\n`,
    `[[upstreams]]\nname = "cloud"\nurl = "${key}"\n`,
    `[tunnel]\nrelay_url = "${jwt}"\n`,
    `[auth]\nissuer = "Bearer ${jwt}"\n`,
    `[[upstreams]]\nname = "${key}!"\nurl = "http://127.0.0.1:9"\n`,
    `[tunnel]\n"${key}" = true\n`,
  ];
  for (const text of texts) {
    const r = parseConfig(text, "f");
    expect(r.ok).toBe(false);
    const message = r.ok ? "" : r.issues.map(formatIssue).join("\n");
    expect(message).toContain("[redacted]");
    // In any case: relay_url's advice (`use "wss://HOST/agent"`) made a URL of it, whose host is folded to lower case.
    for (const secret of [key.slice(8), jwt.slice(-12), gateway.slice(4)]) expect(message.toLowerCase()).not.toContain(secret.toLowerCase());
  }
  // Ordinary values are still quoted, so the message says what is wrong.
  const plain = parseConfig(`[[upstreams]]\nname = "cloud"\nurl = "localhost:11434"\n`, "f");
  expect(plain.ok ? "" : plain.issues[0]!.message).toContain('"localhost:11434" is not a URL');
});

test("a key or table defined twice is named, with the line of the second one, the line of the first and what to do", () => {
  const issue = (text: string) => {
    const r = parseConfig(text, "f");
    return r.ok ? null : { line: r.issues[0]!.line, message: r.issues[0]!.message };
  };
  expect(issue('[alerts]\nenabled = true\n\n  enabled = false # again\n')).toEqual({
    line: 4,
    message: "enabled in [alerts] is set twice (first on line 2): keep one of the two lines",
  });
  expect(issue('[api]\nlisten = "127.0.0.1:1"\n[alerts]\nenabled = true\n[api]\nbody_limit = 5\n')).toEqual({
    line: 5,
    message: "[api] is defined twice (first on line 1): a table may appear only once; set its keys in the first one and delete this one",
  });
  // The README's snippets pasted below the file the first run wrote (it has every table already): the user is told where to put them.
  const written = defaultConfigText();
  const at = written.split("\n").findIndex((l) => l.startsWith("[tunnel]")) + 1;
  const pasted = issue(`${written}\n[tunnel]\nenabled = true\nrelay_url = "wss://relay.example.com/agent"\n`);
  expect(pasted?.message).toBe(`[tunnel] is defined twice (first on line ${at}): a table may appear only once; set its keys in the first one and delete this one`);
});

test("keys every object inherits (constructor, toString, __proto__) are unknown keys like any other, in TOML and in JSON", () => {
  for (const k of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
    for (const [text, path] of [
      [`${k} = 1\n[api]\nlisten = "127.0.0.1:0"\n`, k],
      [`[api]\nlisten = "127.0.0.1:0"\n${k} = 1\n`, `api.${k}`],
      [`[[upstreams]]\nname = "a"\nurl = "http://127.0.0.1:9"\n${k} = 1\n`, `upstreams[0].${k}`],
    ]) {
      const r = parseConfig(text!, "f");
      expect({ k, ok: r.ok, path: r.ok ? null : r.issues[0]!.path }).toEqual({ k, ok: false, path: path! });
    }
  }
  const json = validateConfig(JSON.parse('{"__proto__": {"listen": "0.0.0.0:1"}, "api": {"listen": "127.0.0.1:0"}}'));
  expect(json.ok ? [] : json.issues.map((i) => i.path)).toEqual(["__proto__"]);
});

// No test binds, listens on or calls the default ports (8765, 11435): the README's `npm start` runs a daemon there and its `npm test` runs beside it.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Glob } from "bun";

const REPO = join(import.meta.dir, "../..");
const FILES = ["src/**/*.test.ts", "tests/**/*.ts"].flatMap((g) => [...new Glob(g).scanSync(REPO)]).sort();

/**
 * What uses a default port as an address, not as text: a bind or connect option, a TOML `listen` line (not commented
 * out) in a config a test writes, a fetch/WebSocket of a literal URL there, a `--url` argument there. A Host header
 * value or an Origin naming the port (the guards' own tests) is text and is not matched.
 */
const USES: [string, RegExp][] = [
  ["a bind or connect on it", /\b(?:serve|listen|connect|createConnection)\(\s*(?:\{[^}]*\bport\s*:\s*|)(?:8765|11435)\b/g],
  ["a TOML listen line on it", /(?:\\n|^)[ \t]*listen[ \t]*=[ \t]*\\?["'][^"'\\\n]*:(?:8765|11435)\\?["']/gm],
  ["a request to it", /\b(?:fetch|WebSocket)\(\s*["'`](?:https?|wss?):\/\/[^"'`/]*:(?:8765|11435)\b/g],
  ["the CLI's --url on it", /["']--url["']\s*,\s*["'`](?:https?):\/\/[^"'`/]*:(?:8765|11435)\b/g],
];

/** Files that may, and why: none of them lets a process listen on, or connect to, the host's default ports. */
const ALLOWED: Record<string, string> = {
  "tests/api/doctor-default-ports.test.ts": "holds 11435 inside a network namespace of its own (unshare -rn)",
  "tests/broker/gateway-netns-scenario.ts": "runs inside a network namespace of its own (unshare -rn, tests/broker/gateway-netns.test.ts)",
  "tests/foundation/cli.test.ts": "`config validate` of a file on 0.0.0.0:11435: nothing is started",
  "src/config/locate.test.ts": "a config parsed in-process for its line numbers",
  "src/cli/doctor-checks.test.ts": "[proxy] listen parsed in-process; the check probes only the upstreams",
  "tests/foundation/default-ports.test.ts": "this check's own samples",
};

function uses(src: string): string[] {
  const out: string[] = [];
  for (const [what, re] of USES) for (const m of src.matchAll(re)) out.push(`${src.slice(0, m.index).split("\n").length}: ${what}: ${m[0].trim()}`);
  return out;
}

test("the check finds a default port used as an address, and not in Host headers, origins or commented TOML", () => {
  const found = uses(
    [
      `Bun.serve({ hostname: "127.0.0.1", port: 8765, fetch });`,
      `Bun.listen({ port: 11435, socket });`,
      `server.listen(8765);`,
      `const toml = "[api]\\nlisten = \\"127.0.0.1:8765\\"\\n";`,
      "const t = `[proxy]\\nlisten = \"0.0.0.0:11435\"\\n`;",
      `await fetch("http://127.0.0.1:11435/api/tags");`,
      "new WebSocket(`ws://127.0.0.1:8765/api/v1/events`);",
      `runCli(env, "status", "--url", "http://127.0.0.1:8765");`,
    ].join("\n"),
  );
  expect(found.map((f) => f.split(":")[0])).toEqual(["1", "2", "3", "4", "5", "6", "7", "8"]);
  const text = [
    `await app.handle(new Request("http://127.0.0.1:8765/healthz", { headers: { host: "127.0.0.1:8765" } }));`,
    `expect(hostHeaderAllowed("localhost:11435", cfg)).toBe(true);`,
    `expect(parseHost("[::1]:8765")).toEqual({ host: "::1", port: 8765 });`,
    `const origin = "http://127.0.0.1:8765";`,
    `const toml = "[api]\\n# listen = \\"127.0.0.1:8765\\"\\n";`,
    `parseConfig(TOML.replace('listen = "127.0.0.1:0"', 'listen = "0.0.0.0:8765"'), file);`,
    `await fetch(\`http://127.0.0.1:\${port}/\`);`,
  ].join("\n");
  expect(uses(text)).toEqual([]);
});

test("no test file binds, configures, requests or points the CLI at a default port (8765, 11435) outside the few that say why", () => {
  expect(FILES.length).toBeGreaterThan(300);
  const found = FILES.filter((f) => !(f in ALLOWED)).flatMap((f) => uses(readFileSync(join(REPO, f), "utf8")).map((u) => `${f}:${u}`));
  expect(found).toEqual([]);
  // Each allowance is still needed (a file that no longer uses the port loses it).
  for (const f of Object.keys(ALLOWED)) expect({ f, uses: uses(readFileSync(join(REPO, f), "utf8")).length > 0 }).toEqual({ f, uses: true });
});

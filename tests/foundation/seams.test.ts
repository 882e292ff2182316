// Issue 13's seams stay single: the program type-checks (so the typed client's route types are checked), the app is
// typed statically, and no listener casts a daemon event's data.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { closure, importGraph, REPO, sourceFiles } from "../../scripts/import-graph.ts";

const sources = () => sourceFiles().map((f) => ({ f, text: readFileSync(join(REPO, f), "utf8") }));

test("the program type-checks (tsc --noEmit): typed routes, replies and events are checked, not only written", () => {
  const r = Bun.spawnSync([join(REPO, "node_modules/.bin/tsc"), "--noEmit", "-p", "."], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  expect(r.stdout.toString() + r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
}, 120_000);

test("the control API is typed statically: no AnyElysia or any-typed Elysia anywhere", () => {
  const hits = sources().filter(({ text }) => /AnyElysia|Elysia<any/.test(text)).map(({ f }) => f);
  expect(hits).toEqual([]);
});

test("no listener casts a daemon event's data: DaemonEvent and WsMessage narrow on type", () => {
  const hits = sources().flatMap(({ f, text }) => [...text.matchAll(/\b(?:e|m|msg|ev|event)\.data as \w+/g)].filter((m) => !/as (ArrayBuffer|Uint8Array)/.test(m[0])).map((m) => `${f}: ${m[0]}`));
  expect(hits).toEqual([]);
});

test("durations are decoded once, in src/config: no durationMs( anywhere else in src/ or tray/", () => {
  const hits = sources()
    .filter(({ f }) => !f.startsWith("src/config/"))
    .flatMap(({ f, text }) => (text.includes("durationMs(") ? [f] : []));
  expect(hits).toEqual([]);
});

test("components get the changed sections from the runtime: none diffs its own section with JSON.stringify", () => {
  const hits = sources().flatMap(({ f, text }) => [...text.matchAll(/JSON\.stringify\((?:next|prev)(?:\.\w+)?\)/g)].map((m) => `${f}: ${m[0]}`));
  expect(hits).toEqual([]);
});

test("the tunnel handshake is written once (src/protocol/handshake.ts): neither the relay nor the agent builds HELLO or WELCOME itself", () => {
  const hits = sources()
    .filter(({ f }) => !f.startsWith("src/protocol/"))
    .flatMap(({ f, text }) => [...text.matchAll(/type: "(HELLO|WELCOME)"/g)].map((m) => `${f}: ${m[0]}`));
  expect(hits).toEqual([]);
});

/** The daemon's side of the tray's seams (tray/tray-ports.ts): they read the daemon's services in-process, by design. */
const IN_DAEMON = ["tray/in-daemon.ts", "tray/local-source.ts", "tray/local-actions.ts"];

test("the tray command is a client: it never reaches the daemon's in-process side of the tray", () => {
  const reached = closure(importGraph(), ["tray/main.ts"], ["runtime", "lazy"]);
  expect(IN_DAEMON.filter((f) => reached.has(f))).toEqual([]);
});

test("the tray is a client: it imports the shared contracts, the API client and desktop pieces, never the daemon's parts (but its in-daemon side)", () => {
  const hits = sources()
    .filter(({ f }) => f.startsWith("tray/") && !IN_DAEMON.includes(f) && !f.endsWith(".test.ts"))
    .flatMap(({ f, text }) => [...text.matchAll(/from "\.\.\/src\/(api|daemon|broker|dashboard|dashboard-page|gateway|tunnel|relay|alerts|inspector|auth|cli)\//g)].map((m) => `${f}: ${m[0]}`));
  expect(hits).toEqual([]);
});

// A notifier without a session bus: one short log line (once), the same sentence as its warning; notify-send's own failure text cut to its cause.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { logFormat, setLogFormat, setLogSink } from "../../core/log.ts";
import { requireTools } from "../../../tests/helpers/requires.ts";
import { createNotifier, notifyFailure, NO_SESSION_BUS } from "./notifier.ts";

const lines: string[] = [];
const started = logFormat();
setLogSink((l) => void lines.push(l));
setLogFormat("journal");
const runtime = mkdtempSync(join(tmpdir(), "c2l-notify-"));
afterAll(() => {
  setLogSink((l) => void process.stderr.write(l + "\n"));
  setLogFormat(started);
  rmSync(runtime, { recursive: true, force: true });
});

test("no session bus: every alert fails, but the log gets one short line (not notify-send's command and D-Bus advice)", async () => {
  // notify-send present, but neither DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR/bus.
  const n = createNotifier({ which: () => "/usr/bin/notify-send", env: { XDG_RUNTIME_DIR: runtime } });
  for (let i = 0; i < 3; i++) expect(await n.send({ title: "Upstream down", body: "Upstream local has been down for 2 s", urgency: "critical" })).toBe(false);
  expect(lines).toEqual(["<4>warn notify: desktop notification failed: no session bus (DBUS_SESSION_BUS_ADDRESS unset)"]);
  expect(n.warning()).toBe(`desktop notification failed: ${NO_SESSION_BUS}`);
});

requireTools(["notify-send"]).test("notify-send's real failure without a bus becomes the same few words", () => {
  const r = Bun.spawnSync(["notify-send", "Upstream down", "Upstream local has been down for 2 s"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", XDG_RUNTIME_DIR: runtime } });
  expect(r.exitCode).not.toBe(0);
  // As node-notifier hands it over: the command it ran, then the tool's stderr.
  const err = new Error(`Command failed: notify-send "Upstream down" "Upstream local has been down for 2 s" --urgency "critical"\n${r.stderr.toString()}`);
  expect(notifyFailure(err)).toBe(NO_SESSION_BUS);
  expect(notifyFailure(new Error('Command failed: notify-send "t" "b"\nGDBus.Error:org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.Notifications was not provided by any .service files\n'))).toBe(
    "no notification server on the session bus",
  );
  expect(notifyFailure(new Error('Command failed: notify-send "secret title" "b"\nsomething odd happened\n'))).toBe("something odd happened");
});

test("the notification code fails to load (the file limit): that notification fails with one line, and the next one loads it again", async () => {
  lines.length = 0;
  // The icon's private copy goes to this test's runtime directory, not the user's.
  const runtimeBefore = process.env.XDG_RUNTIME_DIR;
  process.env.XDG_RUNTIME_DIR = runtime;
  try {
    let loads = 0;
    const shown: string[] = [];
    const n = createNotifier({
      which: () => "/usr/bin/notify-send",
      env: { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent", XDG_RUNTIME_DIR: runtime },
      loadBackend: async () => {
        if (++loads === 1) throw new Error('Cannot find module "node-notifier/notifiers/notifysend.js"');
        return { notify: (o: unknown, done?: (err: unknown) => void) => (shown.push((o as { title: string }).title), done?.(null), undefined as never) } as never;
      },
    });
    // Before: the rejected load was kept, and every later send threw it (the alert engine's line each time, no notification until restart).
    expect(await n.send({ title: "first", body: "b", urgency: "normal" })).toBe(false);
    expect(lines).toEqual(['<4>warn notify: desktop notification failed: its code could not be loaded: Cannot find module "node-notifier/notifiers/notifysend.js"']);
    expect(await n.send({ title: "second", body: "b", urgency: "normal" })).toBe(true);
    expect({ loads, shown, warning: n.warning() }).toEqual({ loads: 2, shown: ["second"], warning: null });
  } finally {
    if (runtimeBefore === undefined) delete process.env.XDG_RUNTIME_DIR;
    else process.env.XDG_RUNTIME_DIR = runtimeBefore;
  }
});

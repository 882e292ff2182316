// The `tray` command where there is no session bus (ssh, a bare shell): it ends at once, saying why and what to do.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../api/cli.ts";

const home = mkdtempSync(join(tmpdir(), "c2l-tray-no-bus-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

test("tray without a session bus exits 1 with the cause and the fix (run it inside the desktop session)", async () => {
  // A bare environment, as `env -i` or an ssh login gives: no DBUS_SESSION_BUS_ADDRESS, no XDG_RUNTIME_DIR/bus.
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, XDG_RUNTIME_DIR: join(home, "run") };
  const r = await runCli(env, "tray");
  expect({ code: r.code, out: r.out }).toEqual({ code: 1, out: "" });
  expect(r.err).toContain("no D-Bus session bus");
  expect(r.err).toContain("run it inside your desktop session");
});

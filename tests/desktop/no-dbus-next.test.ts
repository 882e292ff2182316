// dbus-next stays out of the product: no file under src/ or tray/ imports it, and the compiled binary holds none of it
// (tests keep it as the independent other end of the bus; bench/ may compile it for a floor).
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ensureBinary } from "../helpers/binary.ts";
import { REPO } from "../helpers/daemon.ts";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith(".ts") && !p.endsWith(".test.ts") ? [p] : [];
  });
}

test("no product source imports dbus-next: the tray and the keyring use src/desktop/dbus", () => {
  const files = [...sources(join(REPO, "src")), ...sources(join(REPO, "tray"))];
  expect(files.length).toBeGreaterThan(100);
  const importing = files.filter((f) => /(from|import\()\s*["']dbus-next["']/.test(readFileSync(f, "utf8"))).map((f) => relative(REPO, f));
  expect(importing).toEqual([]);
});

test("the compiled binary holds none of dbus-next or what it pulls in (xml2js, its SASL mechanisms)", async () => {
  const bytes = Buffer.from(await Bun.file(await ensureBinary()).arrayBuffer());
  // Our own client is in: the binary is not simply missing the D-Bus code.
  expect(bytes.indexOf("org.kde.StatusNotifierWatcher")).toBeGreaterThan(-1);
  expect(["dbus-next", "xml2js", "DBUS_COOKIE_SHA1"].filter((s) => bytes.indexOf(s) >= 0)).toEqual([]);
}, 300_000);

// readClientSettings: what the CLI and the tray still read from a config file that the daemon would reject.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readClientSettings } from "./settings.ts";

function settingsOf(toml: string) {
  const dir = mkdtempSync(join(tmpdir(), "c2l-settings-"));
  try {
    writeFileSync(join(dir, "tunnel.toml"), toml);
    return readClientSettings(join(dir, "tunnel.toml"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("a wrong value in [api] keeps the table's valid fields: the CLI still finds the daemon to report the error", () => {
  const s = settingsOf(`[api]\nlisten = "127.0.0.1:18999"\nbody_limit = "x"\ntoken_file = "/tmp/c2l-token"\n`);
  expect(s.base).toBe("http://127.0.0.1:18999");
  expect(s.tokenFile).toBe("/tmp/c2l-token");
  // The wrong field itself is the default's.
  expect(typeof s.api.body_limit).toBe("number");
});

test("an [api] listen that is itself wrong falls back to the default address", () => {
  expect(settingsOf(`[api]\nlisten = 5\n`).base).toBe("http://127.0.0.1:8765");
});

test("an error in another table leaves [api] as written", () => {
  expect(settingsOf(`[api]\nlisten = "127.0.0.1:18998"\n[proxy]\nbody_limit = "x"\n`).base).toBe("http://127.0.0.1:18998");
});

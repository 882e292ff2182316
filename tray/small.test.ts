// Small pure helpers of the tray: TOML key edits that keep comments, bus address forms, the API base from a listen address.
import { describe, expect, test } from "bun:test";
import { setTomlKey } from "./notifications-setting.ts";
import { apiBaseOf } from "./tray-config.ts";

describe("setTomlKey", () => {
  test("edits the key in place, keeping comments", () => {
    const t = "# top\n[alerts]\n# why\nnotifications = true # mine\ncooldown = \"5m\"\n\n[api]\nnotifications = 1\n";
    expect(setTomlKey(t, "alerts", "notifications", "false")).toBe(t.replace("notifications = true # mine", "notifications = false # mine"));
  });
  test("adds the key to an existing table, or the table at the end", () => {
    expect(setTomlKey("[alerts]\ncooldown = \"5m\"\n[api]\n", "alerts", "notifications", "false")).toBe("[alerts]\nnotifications = false\ncooldown = \"5m\"\n[api]\n");
    expect(setTomlKey("[api]\nlisten = \"127.0.0.1:8765\"", "alerts", "notifications", "false")).toBe("[api]\nlisten = \"127.0.0.1:8765\"\n\n[alerts]\nnotifications = false\n");
    expect(setTomlKey("", "alerts", "notifications", "true")).toBe("\n[alerts]\nnotifications = true\n");
  });
});

describe("API base", () => {
  test("API base from the listen address (wildcards reached through loopback)", () => {
    expect(apiBaseOf("127.0.0.1:8765")).toBe("http://127.0.0.1:8765");
    expect(apiBaseOf("[::1]:9000")).toBe("http://[::1]:9000");
    expect(apiBaseOf("0.0.0.0:8765")).toBe("http://127.0.0.1:8765");
  });
});

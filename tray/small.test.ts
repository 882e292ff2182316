// Small pure helpers of the tray: TOML key edits that keep comments.
import { describe, expect, test } from "bun:test";
import { setTomlKey } from "./notifications-setting.ts";

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

// Unit tests for the version compatibility verdict between the daemon and its clients.
import { describe, expect, test } from "bun:test";
import { compatibility, parseVersion } from "./compat.ts";

describe("compatibility", () => {
  test("same major and minor is ok", () => {
    expect(compatibility("3.0.0", "3.0.7")).toMatchObject({ compatible: true, level: "ok" });
    expect(compatibility("3.2.1", "v3.2.0-rc.1")).toMatchObject({ compatible: true, level: "ok" });
  });
  test("different minor is a warning that names the older side", () => {
    const r = compatibility("3.1.0", "3.4.0");
    expect(r).toMatchObject({ compatible: true, level: "warn" });
    expect(r.message).toContain("3.1.0 is older");
  });
  test("different major is incompatible", () => {
    const r = compatibility("3.0.0", "2.9.9");
    expect(r).toMatchObject({ compatible: false, level: "incompatible" });
    expect(r.message).toContain("major");
  });
  test("garbage is incompatible with a message naming it", () => {
    expect(compatibility("3.0.0", "banana")).toMatchObject({ compatible: false, level: "incompatible", message: '"banana" is not a version number' });
    expect(parseVersion("3")).toEqual({ major: 3, minor: 0, patch: 0 });
  });
});

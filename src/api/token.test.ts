// Unit tests for the API token file: created once, 0600, tightened when too open, XDG default path.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureApiToken, readApiToken, tokenFile } from "./token.ts";
import { defaultTokenFile } from "../config/paths.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const cfg = (token_file: string) => ({ api: { token_file } }) as Parameters<typeof ensureApiToken>[0];

describe("api token", () => {
  test("created once, random, in a 0600 file, then read back unchanged", () => {
    const dir = mkdtempSync(join(tmpdir(), "c2l-token-"));
    dirs.push(dir);
    const file = join(dir, "sub", "api-token");
    expect(readApiToken(cfg(file))).toBeNull();
    const t = ensureApiToken(cfg(file));
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8").trim()).toBe(t);
    expect(ensureApiToken(cfg(file))).toBe(t);
    expect(readApiToken(cfg(file))).toBe(t);
    expect(ensureApiToken(cfg(join(dir, "other")))).not.toBe(t);
  });
  test("a group/world readable token file is tightened to 0600", () => {
    const dir = mkdtempSync(join(tmpdir(), "c2l-token-"));
    dirs.push(dir);
    const file = join(dir, "api-token");
    writeFileSync(file, "existing-token-value\n");
    chmodSync(file, 0o644);
    expect(ensureApiToken(cfg(file))).toBe("existing-token-value");
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
  test("empty token_file means the XDG default", () => {
    expect(tokenFile(cfg(""))).toBe(defaultTokenFile());
  });
});

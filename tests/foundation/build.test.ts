// The build script cross-compiles: --target linux-arm64 gives an aarch64 executable with a matching .sha256 beside it.
import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build, defaultOutfile } from "../../packaging/build.ts";

const dir = mkdtempSync(join(tmpdir(), "c2l-build-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("default output names: the host target plain, other targets suffixed", () => {
  expect(defaultOutfile()).toMatch(/\/dist\/cloudtolocalllm-tunnel$/);
  expect(defaultOutfile(process.arch === "arm64" ? "linux-x64" : "linux-arm64")).toMatch(/\/dist\/cloudtolocalllm-tunnel-linux-(x64|arm64)$/);
});

test("a linux-arm64 cross build is an aarch64 ELF with its sha256", async () => {
  const outfile = join(dir, "cloudtolocalllm-tunnel-linux-arm64");
  const r = await build({ target: "linux-arm64", outfile, quiet: true });
  const bytes = readFileSync(outfile);
  expect(bytes.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46])); // \x7fELF
  expect(bytes.readUInt16LE(18)).toBe(0xb7); // e_machine = EM_AARCH64
  const sha = createHash("sha256").update(bytes).digest("hex");
  expect(r.sha256).toBe(sha);
  expect(readFileSync(`${outfile}.sha256`, "utf8")).toBe(`${sha}  cloudtolocalllm-tunnel-linux-arm64\n`);
}, 180_000);

test("an unknown target is refused", async () => {
  await expect(build({ target: "windows-x64" as never, outfile: join(dir, "x"), quiet: true })).rejects.toThrow(/unknown target "windows-x64"/);
});

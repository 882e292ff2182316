// What `uninstall` answers when there is nothing of its own to remove.
import { expect, test } from "bun:test";
import { PACKAGED_BINARY } from "../desktop/install/assets.ts";
import { nothingToUninstall } from "./uninstall.ts";

test("run from the package's binary, uninstall names the package manager instead of asking whether a package installed it", () => {
  const m = nothingToUninstall(PACKAGED_BINARY);
  expect(m).toContain("is a package's");
  expect(m).toContain("apt remove cloudtolocalllm-tunnel");
  expect(m).not.toContain("?");
});

test("run from anywhere else (a plain binary never installed), it says no manifest was found", () => {
  expect(nothingToUninstall("/tmp/x/cloudtolocalllm-tunnel")).toContain("no install manifest found");
  expect(nothingToUninstall(null)).toContain("no install manifest found");
});

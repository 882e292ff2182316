// installPackaged with a recording systemctl runner: the home copy of an earlier install goes, then the package's unit is enabled.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { install, type InstallPaths } from "./installer.ts";
import { installPackaged } from "./package-switch.ts";
import type { Runner } from "./systemctl.ts";

let root: string;
let paths: InstallPaths;
let calls: string[];
const recorder: Runner = async (args) => {
  calls.push(args.join(" "));
  return { code: 0, stdout: "", stderr: "" };
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "c2l-pkg-switch-"));
  const data = join(root, "data");
  paths = {
    binDir: join(root, "bin"),
    userUnitDir: join(data, "systemd/user"),
    applicationsDir: join(data, "applications"),
    autostartDir: join(root, "config/autostart"),
    iconsDir: join(data, "icons"),
    manDir: join(data, "man/man1"),
    metainfoDir: join(data, "metainfo"),
    bashCompletionDir: join(data, "bash-completion/completions"),
    zshCompletionDir: join(data, "zsh/site-functions"),
    fishCompletionDir: join(data, "fish/vendor_completions.d"),
    manifest: join(data, "cloudtolocalllm/install-manifest.json"),
  };
  calls = [];
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

test("the package's install removes the home copy whose unit and binary came first, then enables and restarts the package's unit", async () => {
  const download = join(root, "downloaded");
  writeFileSync(download, "#!/bin/sh\n");
  chmodSync(download, 0o755);
  await install({ source: download, enable: true, run: recorder, paths });
  expect(existsSync(join(paths.userUnitDir, "cloudtolocalllm-tunnel.service"))).toBe(true);
  calls = [];

  const r = await installPackaged({ run: recorder, enable: true, paths });
  expect(r.homeCopy?.removed).toContain(join(paths.binDir, "cloudtolocalllm-tunnel"));
  expect(r.homeCopy?.removed).toContain(join(paths.userUnitDir, "cloudtolocalllm-tunnel.service"));
  expect(existsSync(paths.manifest)).toBe(false);
  expect(readdirSync(root).sort()).toEqual(["downloaded"]);
  // The home unit is stopped and disabled, then the same name, now the package's unit, enabled and restarted onto /usr/bin.
  expect(calls).toEqual([
    "show-environment",
    "disable --now cloudtolocalllm-tunnel.service",
    "daemon-reload",
    "show-environment",
    "daemon-reload",
    "enable cloudtolocalllm-tunnel.service",
    "restart cloudtolocalllm-tunnel.service",
  ]);
  expect(r.systemd).toContain("enabled and (re)started");
});

test("without a home copy the package's install only enables and starts its unit", async () => {
  const r = await installPackaged({ run: recorder, enable: true, paths });
  expect(r.homeCopy).toBeNull();
  expect(calls).toEqual(["show-environment", "daemon-reload", "enable cloudtolocalllm-tunnel.service", "start cloudtolocalllm-tunnel.service"]);
});

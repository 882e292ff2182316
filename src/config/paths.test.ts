// Where files live under unusual XDG variables: set ones are used, relative ones ignored as the XDG spec says.
import { afterEach, expect, test } from "bun:test";
import { configHome, configPath, dataHome, runtimeDir, stateHome } from "./paths.ts";

const saved = { ...process.env };
afterEach(() => {
  for (const k of ["HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR", "CLOUDTOLOCALLLM_CONFIG"]) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

test("absolute XDG variables are used as they are, wherever they point", () => {
  Object.assign(process.env, { HOME: "/home/ada", XDG_CONFIG_HOME: "/srv/cfg", XDG_STATE_HOME: "/var/tmp/st", XDG_DATA_HOME: "/data/share", XDG_RUNTIME_DIR: "/run/user/1000" });
  delete process.env.CLOUDTOLOCALLLM_CONFIG;
  expect([configHome(), stateHome(), dataHome(), runtimeDir(), configPath()]).toEqual(["/srv/cfg", "/var/tmp/st", "/data/share", "/run/user/1000", "/srv/cfg/cloudtolocalllm/tunnel.toml"]);
});

test("relative or empty XDG variables are ignored (XDG base directory spec): the defaults under HOME, the same from any directory", () => {
  Object.assign(process.env, { HOME: "/home/ada", XDG_CONFIG_HOME: "cfg", XDG_STATE_HOME: "./state", XDG_DATA_HOME: "", XDG_RUNTIME_DIR: "run" });
  delete process.env.CLOUDTOLOCALLLM_CONFIG;
  expect([configHome(), stateHome(), dataHome(), runtimeDir(), configPath()]).toEqual([
    "/home/ada/.config",
    "/home/ada/.local/state",
    "/home/ada/.local/share",
    undefined,
    "/home/ada/.config/cloudtolocalllm/tunnel.toml",
  ]);
});

test("a relative --config or CLOUDTOLOCALLLM_CONFIG is made absolute from the current directory: a daemon reports, and its listen record is named by, the same path a CLI in another directory resolves", () => {
  delete process.env.CLOUDTOLOCALLLM_CONFIG;
  expect(configPath("x.toml")).toBe(`${process.cwd()}/x.toml`);
  expect(configPath("../y/z.toml")).toBe(require("node:path").resolve(process.cwd(), "../y/z.toml"));
  process.env.CLOUDTOLOCALLLM_CONFIG = "env.toml";
  expect(configPath()).toBe(`${process.cwd()}/env.toml`);
});

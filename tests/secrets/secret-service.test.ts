// The secret store and `secret` CLI against a real gnome-keyring-daemon on a private session bus.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { join } from "node:path";
import { startKeyring, type Keyring } from "./keyring.ts";
import { tempHome } from "../helpers/daemon.ts";
import { openSecretStore } from "../../src/secrets/open-secret-store.ts";
import { APPLICATION, SecretServiceStore } from "../../src/secrets/secret-service-store.ts";
import { BUN, removeHome, REPO, startDaemon } from "../helpers/daemon.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, test } = requireTools(["dbus-daemon", "gnome-keyring-daemon", "secret-tool", "gdbus"]);

let kr: Keyring;
beforeAll(async () => {
  kr = await startKeyring();
}, 30_000);
afterAll(async () => {
  await kr?.stop();
});

function cli(args: string[], stdin?: string) {
  const r = Bun.spawnSync([BUN, join(REPO, "src/main.ts"), ...args], {
    env: kr.env,
    stdin: stdin === undefined ? "ignore" : Buffer.from(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}
function secretTool(...args: string[]) {
  const r = Bun.spawnSync(["secret-tool", ...args], { env: kr.env, stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString();
}

test("secret set/get/list/delete store labelled items in the real keyring", () => {
  const value = "kr-secret-value-4242";
  const set = cli(["secret", "set", "tunnel-token"], value + "\n");
  expect(set.err).toContain('Stored "tunnel-token" (secret-service)');
  expect(set.code).toBe(0);
  expect(set.err).not.toContain("warning");
  // What the user sees in Seahorse: our label and attributes, found by another Secret Service client.
  const found = secretTool("search", "--all", "application", APPLICATION, "name", "tunnel-token");
  expect(found).toContain("label = CloudToLocalLLM: tunnel-token");
  expect(secretTool("lookup", "application", APPLICATION, "name", "tunnel-token")).toBe(value);

  expect(cli(["secret", "get", "tunnel-token"]).out).toBe(value + "\n");
  // Setting again replaces the item instead of adding a second one.
  expect(cli(["secret", "set", "tunnel-token"], "kr-secret-value-2\n").code).toBe(0);
  expect(secretTool("search", "--all", "application", APPLICATION).match(/label = /g)?.length).toBe(1);
  expect(cli(["secret", "set", "openai-key"], "sk-kr-0000001").code).toBe(0);
  expect(cli(["secret", "list"]).out).toBe("openai-key\ntunnel-token\n");

  expect(cli(["secret", "delete", "tunnel-token"]).code).toBe(0);
  expect(secretTool("lookup", "application", APPLICATION, "name", "tunnel-token")).toBe("");
  const missing = cli(["secret", "get", "tunnel-token"]);
  expect(missing.code).toBe(1);
  expect(missing.err).toContain('no secret named "tunnel-token"');
}, 30_000);

test("items another client stored are read through the store; the daemon publishes the keyring store", async () => {
  const stored = Bun.spawnSync(["secret-tool", "store", "--label=x", "application", APPLICATION, "name", "from-tool"], {
    env: kr.env,
    stdin: Buffer.from("tool-secret-value-9"),
    stdout: "pipe",
    stderr: "pipe",
  });
  // Another client's view first, so a failure says whether secret-tool or our store went wrong.
  expect({ code: stored.exitCode, err: stored.stderr.toString() }).toEqual({ code: 0, err: "" });
  expect(secretTool("lookup", "application", APPLICATION, "name", "from-tool")).toBe("tool-secret-value-9");
  const store = await openSecretStore({ secrets: { backend: "auto" } }, { env: kr.env });
  try {
    expect({ backend: store.backend, warning: store.warning }).toEqual({ backend: "secret-service", warning: null });
    expect(await store.get("from-tool")).toBe("tool-secret-value-9");
    expect(await store.delete("from-tool")).toBe(true);
    expect(await store.get("from-tool")).toBeNull();
  } finally {
    await store.close();
  }
  const d = await startDaemon({ env: { DBUS_SESSION_BUS_ADDRESS: kr.address }, config: `[api]\nlisten = "127.0.0.1:0"\n[proxy]\nlisten = "127.0.0.1:0"\n` });
  try {
    await d.waitFor(/secrets: secret store ready backend=secret-service/);
  } finally {
    await d.stop();
    removeHome(d.home);
  }
}, 30_000);

test("secrets cross the bus encrypted (DH + AES) by default, and the plain transfer works too", async () => {
  for (const algorithm of ["dh", "plain"] as const) {
    const s = new SecretServiceStore({ busAddress: kr.address, algorithm });
    try {
      await s.set(`algo-${algorithm}`, `value-over-${algorithm}-é`);
      expect(s.algorithm).toBe(algorithm);
      expect(await s.get(`algo-${algorithm}`)).toBe(`value-over-${algorithm}-é`);
      // Another client decrypts what we stored: the keyring holds the plaintext, not our ciphertext.
      expect(secretTool("lookup", "application", APPLICATION, "name", `algo-${algorithm}`)).toBe(`value-over-${algorithm}-é`);
      expect(await s.delete(`algo-${algorithm}`)).toBe(true);
    } finally {
      await s.close();
    }
  }
}, 30_000);

test("a locked keyring is reported in one clear sentence", async () => {
  cli(["secret", "set", "locked-one"], "locked-secret-value");
  const lock = Bun.spawnSync(
    ["gdbus", "call", "--session", "-d", "org.freedesktop.secrets", "-o", "/org/freedesktop/secrets", "-m", "org.freedesktop.Secret.Service.Lock", "['/org/freedesktop/secrets/collection/login']"],
    { env: kr.env },
  );
  expect(lock.exitCode).toBe(0);
  const store = await openSecretStore({ secrets: { backend: "secret-service" } }, { env: kr.env });
  try {
    expect(store.warning).toContain("The desktop keyring is locked");
    await expect(store.get("locked-one")).rejects.toThrow("The desktop keyring is locked");
    await expect(store.set("x", "some-value-123")).rejects.toThrow("The desktop keyring is locked");
  } finally {
    await store.close();
  }
  const get = cli(["secret", "get", "locked-one"]);
  expect(get.code).toBe(1);
  expect(get.err).toContain("The desktop keyring is locked");
}, 30_000);

test("a Secret Service without a default keyring: auto falls back to the file and says why; secret-service refuses", async () => {
  const bare = await startKeyring(null);
  const home = tempHome();
  try {
    const file = join(home, "secrets.json");
    const auto = await openSecretStore({ secrets: { backend: "auto" } }, { env: bare.env, file });
    expect(auto.backend).toBe("file");
    expect(auto.warning).toContain('The Secret Service has no default keyring (collection alias "default")');
    expect(auto.warning).toContain(file);
    await auto.close();
    await expect(openSecretStore({ secrets: { backend: "secret-service" } }, { env: bare.env })).rejects.toThrow(
      "The desktop keyring is not available: The Secret Service has no default keyring",
    );
  } finally {
    removeHome(home);
    await bare.stop();
  }
}, 30_000);

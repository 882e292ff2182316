// A keyring daemon that restarts under a running store (crash, D-Bus activation again): reads and writes go on.
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { startKeyring, type Keyring } from "./keyring.ts";
import { openSecretStore } from "../../src/secrets/open-secret-store.ts";

const { afterAll, beforeAll, test } = requireTools(["dbus-daemon", "gnome-keyring-daemon", "gdbus"]);

let kr: Keyring;
beforeAll(async () => {
  kr = await startKeyring();
}, 30_000);
afterAll(async () => {
  await kr?.stop();
});

test("a restarted gnome-keyring-daemon is asked for a new session: get and set work without restarting the daemon", async () => {
  const store = await openSecretStore({ secrets: { backend: "auto" } }, { env: kr.env });
  try {
    expect(store.backend).toBe("secret-service");
    await store.set("agent-token", "restart-value-1");
    expect(await store.get("agent-token")).toBe("restart-value-1");
    // No call while it is down: the next one reaches the new service with the old session's path (NoSession).
    await kr.restartService();
    expect(await store.get("agent-token")).toBe("restart-value-1");
    await kr.restartService();
    await store.set("agent-token", "restart-value-2");
    expect(await store.get("agent-token")).toBe("restart-value-2");
  } finally {
    await store.close();
  }
}, 60_000);

// The Secret Service store reaches a session bus on an abstract socket (many desktops hand out unix:abstract= addresses).
import { expect } from "bun:test";
import { requireTools } from "../helpers/requires.ts";
import { startPrivateBus, type PrivateBus } from "../desktop/private-bus.ts";
import { NoSecretServiceError, SecretServiceStore } from "../../src/secrets/secret-service-store.ts";

// Every test here needs these tools: without them each skips naming what to install (fails under CLOUDTOLOCALLLM_REQUIRE_TOOLS=1), and the hooks do nothing.
const { afterAll, beforeAll, test } = requireTools(["dbus-daemon"]);

let bus: PrivateBus;
beforeAll(async () => {
  bus = await startPrivateBus("abstract");
});
afterAll(async () => {
  await bus?.stop();
});

test("an abstract bus address is connected to (the bus answers that no keyring is running)", async () => {
  expect(bus.address).toStartWith("unix:abstract=");
  const store = new SecretServiceStore({ busAddress: bus.address, callTimeoutMs: 3000 });
  try {
    const err = await store.probe().then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(NoSecretServiceError);
  } finally {
    await store.close();
  }
});

// The Secret Service store reaches a session bus on an abstract socket (many desktops hand out unix:abstract= addresses).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startPrivateBus, type PrivateBus } from "../desktop/private-bus.ts";
import { NoSecretServiceError, SecretServiceStore } from "../../src/secrets/secret-service-store.ts";

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

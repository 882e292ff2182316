// The one expiry timer of the queue: armed only while a key that expires has requests waiting, for the earliest.
import { expect, test } from "bun:test";
import { QueuedExpiry } from "./queued-expiry.ts";
import { until } from "../../tests/helpers/until.ts";

test("armed for the earliest expiry among the keys waiting, disarmed once none waits; refuses each key as it expires", async () => {
  const refused: [string, string][] = [];
  const x = new QueuedExpiry((bucket, why) => refused.push([bucket, why.message]));
  const armed = () => (x as unknown as { timer: unknown }).timer !== null;
  expect(armed()).toBe(false);
  const soon = new Date(Date.now() + 50).toISOString();
  x.queued("h1", "soon", soon);
  x.queued("h2", "later", new Date(Date.now() + 3_600_000).toISOString());
  expect(armed()).toBe(true);
  await until(() => refused.length === 1, 5000, "the first key to expire");
  expect(refused).toEqual([["h1", `the API key "soon" expired at ${soon} while its request waited in the queue`]]);
  // Still armed for the other key, until its requests leave the queue.
  expect(armed()).toBe(true);
  x.emptied("h2");
  expect(armed()).toBe(false);
  // A key far in the future (past setTimeout's limit) does not fire at once.
  const far = new Date(Date.now() + 400 * 86_400_000).toISOString();
  x.queued("h3", "far", far);
  expect((x as unknown as { armedFor: number }).armedFor).toBe(Date.parse(far));
  expect(refused.length).toBe(1);
  x.stop();
  expect(armed()).toBe(false);
});

// Resume offers: filed per tunnel, claimed once, bounded per tunnel, and waited for within a deadline.
import { expect, test } from "bun:test";
import { Session } from "../protocol/session.ts";
import { MAX_OFFERS_PER_TUNNEL, ResumeOffers } from "./resume-offers.ts";

const relaySession = () => new Session({ role: "relay", heartbeatMs: 60_000, toleranceMs: 120_000, sink: { send: () => {}, close: () => {} } });
const token = (i: number) => `t${String(i).padStart(21, "0")}`;

test("an offer is claimed once, only for its own tunnel; a claim waits for an offer that comes in time", async () => {
  const offers = new ResumeOffers(10_000);
  const s = relaySession();
  offers.offer("alice", token(1), s);
  expect(await offers.claim("bob", token(1), 0, 10)).toBeNull();
  expect(await offers.claim("alice", token(1), 0, 10)).not.toBeNull();
  expect(await offers.claim("alice", token(1), 0, 10)).toBeNull();
  const waiting = offers.claim("alice", token(2), 5, 1_000);
  setTimeout(() => offers.offer("alice", token(2), s), 20);
  expect(await waiting).not.toBeNull();
  s.close("normal", "test over");
});

test("offers are bounded per tunnel: a flood of tokens pushes out the oldest, not memory", async () => {
  const offers = new ResumeOffers(60_000);
  const s = relaySession();
  for (let i = 0; i < MAX_OFFERS_PER_TUNNEL + 10; i++) offers.offer("alice", token(i), s);
  expect(await offers.claim("alice", token(0), 0, 0)).toBeNull();
  expect(await offers.claim("alice", token(MAX_OFFERS_PER_TUNNEL + 9), 0, 0)).not.toBeNull();
  s.close("normal", "test over");
});

test("an offer older than the resume window is not claimed (the agent has given the answer up by then), nor one whose session closed", async () => {
  const offers = new ResumeOffers(30);
  const s = relaySession();
  offers.offer("alice", token(1), s);
  await Bun.sleep(60);
  expect(await offers.claim("alice", token(1), 0, 0)).toBeNull();
  const closed = relaySession();
  offers.offer("alice", token(2), closed);
  closed.close("normal", "gone");
  expect(await offers.claim("alice", token(2), 0, 0)).toBeNull();
  // Within the window the same offer is claimed: the refusals above are the window's and the session's.
  offers.offer("alice", token(3), s);
  expect(await offers.claim("alice", token(3), 0, 0)).not.toBeNull();
  s.close("normal", "test over");
});

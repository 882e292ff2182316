// A compatibility test file's old peer: the previous release unpacked and a fake upstream, ready before its tests, gone after.
import { afterAll, beforeAll } from "bun:test";
import { rmSync } from "node:fs";
import { startFakeOllama, type FakeOllama, type FakeOllamaOptions } from "./fake-ollama.ts";
import { BEFORE_SCHEDULING, commitPresent, oldRelease, type OldRelease } from "./old-release.ts";

export interface OldPeer {
  old: OldRelease;
  fake: FakeOllama;
}

/**
 * Registers the file's hooks and returns what they set up (its fields are there once beforeAll has run). Without the
 * commit (a shallow clone) nothing is set up: the file's tests skip through requireTools([commitPresent(…)]).
 */
export function oldPeer(fakeOptions: FakeOllamaOptions): OldPeer {
  const peer = {} as OldPeer;
  beforeAll(async () => {
    const present = commitPresent(BEFORE_SCHEDULING).available;
    if (!(typeof present === "function" ? present() : present)) return;
    peer.old = oldRelease(BEFORE_SCHEDULING);
    peer.fake = await startFakeOllama(fakeOptions);
  });
  afterAll(async () => {
    await peer.fake?.stop();
    if (peer.old) rmSync(peer.old.dir, { recursive: true, force: true });
  });
  return peer;
}

// Polling for tests: waits for a condition that has no event to wait on (event-driven code never polls).

/** Polls `fn` until it returns truthy and returns that value; throws "timed out waiting for WHAT" after `timeoutMs`. */
export async function until<T>(fn: () => T | Promise<T>, timeoutMs = 5000, what = "condition"): Promise<Exclude<T, null | undefined | false | 0 | "">> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as Exclude<T, null | undefined | false | 0 | "">;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

// lingeringClose: the answer goes out whole at once; its body ends only once the client's upload went quiet, ended, or
// the linger's time ran out, and the upload is then no longer read.
import { expect, test } from "bun:test";
import { lingeringClose } from "./lingering-close.ts";

/** An upload the test feeds; `cancelled` resolves when the linger stops reading it. */
function upload() {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  let onCancel!: () => void;
  const cancelled = new Promise<void>((r) => (onCancel = r));
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c), cancel: () => onCancel() });
  return { reader: body.getReader(), ctl, cancelled };
}

test("the answer's bytes come before the upload stops; the body ends once the upload went quiet, and the upload is let go", async () => {
  const u = upload();
  const res = await lingeringClose(Response.json({ error: "no" }, { status: 401, headers: { "content-length": "14" } }), u.reader, 60_000, 50);
  expect(res.status).toBe(401);
  expect(res.headers.get("connection")).toBe("close");
  expect(res.headers.get("content-length")).toBeNull();
  const r = res.body!.getReader();
  // Still sending meanwhile: the answer is there already.
  u.ctl.enqueue(new Uint8Array(10));
  expect(new TextDecoder().decode((await r.read()).value)).toBe('{"error":"no"}');
  // Quiet from here: the body ends (long before the 60 s bound) and the upload is no longer read.
  expect((await r.read()).done).toBe(true);
  await u.cancelled;
});

test("an upload that never goes quiet is read until the linger's time is out, then let go", async () => {
  const u = upload();
  const feed = setInterval(() => u.ctl.enqueue(new Uint8Array(1024)), 5);
  try {
    const res = await lingeringClose(new Response("refused", { status: 413 }), u.reader, 200, 1_000);
    const text = await res.text();
    expect(text).toBe("refused");
    await u.cancelled;
  } finally {
    clearInterval(feed);
  }
});

test("an upload that ends ends the linger", async () => {
  const u = upload();
  const res = await lingeringClose(new Response("refused", { status: 401 }), u.reader, 60_000, 60_000);
  u.ctl.close();
  expect(await res.text()).toBe("refused");
});

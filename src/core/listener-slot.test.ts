// Unit tests for ListenerSlot: bind beside, release, commit, and making way when the slot's own socket holds the port.
import { afterEach, expect, test } from "bun:test";
import type { Server } from "bun";
import { splitListen } from "../config/listen.ts";
import { listenError } from "./listen-error.ts";
import { ListenerSlot } from "./listener-slot.ts";

const opened: Server<undefined>[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.stop(true);
});

function slot(label: string) {
  const events: string[] = [];
  const s = new ListenerSlot<Server<undefined>>({
    what: "the test listener",
    open(listen) {
      const { hostname, port } = splitListen(listen);
      try {
        const server = Bun.serve({ hostname, port, fetch: () => new Response(`${label} ${listen}`) });
        opened.push(server);
        events.push(`open ${listen}`);
        return server;
      } catch (e) {
        events.push(`fail ${listen}`);
        throw listenError("the test listener", "test.listen", listen, e);
      }
    },
    async close(server) {
      events.push(`close ${server.hostname}:${server.port}`);
      server.stop(true);
    },
    port: (server) => server.port,
  });
  return { s, events };
}

const get = (url: string) =>
  fetch(url, { headers: { connection: "close" } }).then(
    (r) => r.text(),
    () => "refused",
  );

test("stage binds beside the running socket; release lets it go; commit closes the old one", async () => {
  const { s } = slot("a");
  s.start("127.0.0.1:0");
  const first = s.current!;
  await s.stage("127.0.0.2:0");
  const staged = opened.at(-1)!;
  expect(await get(`http://127.0.0.1:${first.port}/`)).toBe("a 127.0.0.1:0");
  await s.release();
  expect(await get(`http://127.0.0.2:${staged.port}/`)).toBe("refused");
  expect(s.current).toBe(first);
  await s.commit("127.0.0.2:0");
  expect(s.current).not.toBe(first);
  expect(s.listen).toBe("127.0.0.2:0");
  expect(await get(`http://127.0.0.1:${first.port}/`)).toBe("refused");
});

test("a taken port throws a ListenError naming the field, and the running socket keeps serving", async () => {
  const { s } = slot("a");
  s.start("127.0.0.1:0");
  const holder = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("other") });
  opened.push(holder);
  await expect(s.stage(`127.0.0.1:${holder.port}`)).rejects.toMatchObject({ field: "test.listen", code: "listen_failed", errno: "EADDRINUSE" });
  await expect(s.commit(`127.0.0.1:${holder.port}`)).rejects.toThrow(`port ${holder.port} is already in use`);
  expect(await get(`http://127.0.0.1:${s.current!.port}/`)).toBe("a 127.0.0.1:0");
});

test("its own socket in the way (same port, overlapping name) makes way, and is bound again when the move is released", async () => {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = probe.port!;
  probe.stop(true);
  const { s, events } = slot("a");
  s.start(`127.0.0.1:${port}`);
  await s.stage(`localhost:${port}`);
  expect(events).toEqual([`open 127.0.0.1:${port}`, `fail localhost:${port}`, `close 127.0.0.1:${port}`, `open localhost:${port}`]);
  await s.release();
  expect(events.slice(4)).toEqual([`close localhost:${port}`, `open 127.0.0.1:${port}`]);
  expect(await get(`http://127.0.0.1:${port}/`)).toBe(`a 127.0.0.1:${port}`);
  // Committed, the name changes and the port stays.
  await s.commit(`localhost:${port}`);
  expect(s.listen).toBe(`localhost:${port}`);
  expect(await get(`http://127.0.0.1:${port}/`)).toBe(`a localhost:${port}`);
});

// The least the tray's job takes in a compiled Bun program (bench/hot-paths.ts, idle rows): on the session bus with
// dbus-next under a well-known name, one fetch and one WebSocket to a local server, then idle. Nothing of ours.
import dbus from "dbus-next";

const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req, srv) => (srv.upgrade(req) ? undefined : Response.json({ ok: true })), websocket: { message() {} } });
const bus = dbus.sessionBus();
await bus.requestName(`org.cloudtolocalllm.Floor${process.pid}`, 0);
await (await fetch(`http://127.0.0.1:${server.port}/`)).json();
const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
await new Promise((r) => (ws.onopen = r));
console.error("floor ready");
setInterval(() => {}, 60_000);

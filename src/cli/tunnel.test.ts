// Unit tests for what `tunnel start|stop|restart` prints: the cloud URL with its examples only while the tunnel is connected.
import { expect, test } from "bun:test";
import type { TunnelStatus } from "../core/contracts.ts";
import { describeTunnel } from "./tunnel.ts";

const base: TunnelStatus = {
  state: "connected", protocol: "v2", relay: "ws://127.0.0.1:8090/agent", since: null, nextRetry: null, attempt: 0,
  lastError: null, lastErrorCode: null, tunnelId: "alice", cloudUrl: "http://127.0.0.1:8090/t/alice/", fix: null, activeStreams: 0,
};

test("connected: the cloud URL, a curl, the OpenAI base URL and the chat page", () => {
  expect(describeTunnel(base)).toBe([
    "tunnel connected (ws://127.0.0.1:8090/agent)",
    "cloud URL: http://127.0.0.1:8090/t/alice/",
    '  curl:            curl -H "Authorization: Bearer $CLIENT_KEY" http://127.0.0.1:8090/t/alice/v1/models',
    "  OpenAI base URL: http://127.0.0.1:8090/t/alice/v1",
    "  chat page:       http://127.0.0.1:8090/chat",
  ].join("\n"));
});

test("`tunnel stop` prints that it stopped, not a cloud URL to paste that nothing answers now", () => {
  expect(describeTunnel({ ...base, state: "stopped" })).toBe("tunnel stopped (ws://127.0.0.1:8090/agent)");
});

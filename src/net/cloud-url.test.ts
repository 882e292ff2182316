// Unit tests for the cloud URL, its examples and the agent URL suggested for a relay_url in the wrong form.
import { expect, test } from "bun:test";
import { agentPathHint, cloudExamples, cloudUrl, suggestAgentUrl } from "./cloud-url.ts";

test("the cloud URL is the relay's /t/ID/ over https for wss and http for ws", () => {
  expect(cloudUrl("wss://relay.example.com/agent", "alice")).toBe("https://relay.example.com/t/alice/");
  expect(cloudUrl("ws://127.0.0.1:8080/agent", "alice")).toBe("http://127.0.0.1:8080/t/alice/");
  expect(cloudUrl("wss://relay.example.com:8443/custom/agent?x=1", "a b")).toBe("https://relay.example.com:8443/t/a%20b/");
  expect(cloudUrl("wss://relay.example.com/agent", null)).toBeNull();
  expect(cloudUrl("", "alice")).toBeNull();
  expect(cloudUrl("not a url", "alice")).toBeNull();
});

test("the examples: a curl of the models and the OpenAI base URL", () => {
  const ex = cloudExamples("https://relay.example.com/t/alice/");
  expect(ex.curl).toBe('curl -H "Authorization: Bearer $CLIENT_KEY" https://relay.example.com/t/alice/v1/models');
  expect(ex.openaiBaseUrl).toBe("https://relay.example.com/t/alice/v1");
  expect(ex.python).toContain('base_url="https://relay.example.com/t/alice/v1"');
});

test("a web address as relay_url gets the agent's WebSocket URL suggested", () => {
  expect(suggestAgentUrl("https://relay.example.com")).toBe("wss://relay.example.com/agent");
  expect(suggestAgentUrl("https://relay.example.com/")).toBe("wss://relay.example.com/agent");
  expect(suggestAgentUrl("http://10.0.0.5:8080/agent")).toBe("ws://10.0.0.5:8080/agent");
  expect(suggestAgentUrl("relay.example.com")).toBe("wss://relay.example.com/agent");
  expect(suggestAgentUrl("ftp://relay.example.com")).toBeNull();
});

test("a 404 at the agent path suggests the default agent path, or checking it when that was used", () => {
  expect(agentPathHint("wss://relay.example.com/")).toBe("set [tunnel] relay_url to wss://relay.example.com/agent (the relay's default agent path; see [relay] agent_path)");
  expect(agentPathHint("wss://relay.example.com/agent")).toContain("check [relay] agent_path");
});

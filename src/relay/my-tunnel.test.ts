// Which paths are "my tunnel" routes and what path they reach on the tunnel.
import { expect, test } from "bun:test";
import { myTunnelTarget } from "./my-tunnel.ts";

test("/me/<path> and /ollama/<path> reach <path>; look-alike prefixes are not theirs", () => {
  expect(myTunnelTarget("/me/api/tags")).toEqual({ path: "/api/tags" });
  expect(myTunnelTarget("/ollama/api/tags")).toEqual({ path: "/api/tags" });
  expect(myTunnelTarget("/ollama/v1/chat/completions")).toEqual({ path: "/v1/chat/completions" });
  expect(myTunnelTarget("/me")).toEqual({ path: "/" });
  for (const p of ["/meta/api/tags", "/ollamax/api/tags", "/t/me/api/tags", "/api/tags"]) expect(myTunnelTarget(p)).toBeNull();
});

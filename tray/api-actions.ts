// The tray command's menu actions: calls to the daemon's control API through the one API client.
import type { ApiClient } from "../src/client/api-client.ts";
import { dashboardLink } from "../src/client/dashboard-link.ts";
import type { TrayActions } from "./tray-ports.ts";

export function apiActions(client: ApiClient): TrayActions {
  return {
    async tunnel(action) {
      await client.call("POST", `/api/v1/tunnel/${action}`);
    },
    async reconnect() {
      await client.call("POST", "/api/v1/reconnect");
    },
    dashboardUrl: async () => (await dashboardLink(client)).url,
    login: () => client.call("POST", "/api/v1/auth/login"),
    async logout() {
      await client.call("POST", "/api/v1/auth/logout");
    },
    async approve(code) {
      await client.call("POST", "/api/v1/dashboard/approve", { json: { code } });
    },
    apiBase: () => client.base,
  };
}

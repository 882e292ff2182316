// The daemon's own tray's menu actions: the same service functions the control API's routes call, in-process (no HTTP, no token).
import type { DaemonContext } from "../src/core/component.ts";
import { baseUrlOf } from "../src/core/listen-url.ts";
import { tunnelAction } from "../src/api/modules/tunnel/service.ts";
import { reconnectAll } from "../src/api/modules/upstreams/service.ts";
import { approveAccess, issueCode } from "../src/api/modules/dashboard/service.ts";
import { logout, startLogin } from "../src/api/modules/auth/service.ts";
import type { TrayActions } from "./tray-ports.ts";

export function localActions(ctx: DaemonContext): TrayActions {
  // The API's bound address (an ephemeral port in tests), else the configured one while it does not listen.
  const apiBase = () => ctx.services.apiUrl?.() ?? baseUrlOf(ctx.config.current().api.listen);
  return {
    async tunnel(action) {
      await tunnelAction(ctx, action);
    },
    async reconnect() {
      await reconnectAll(ctx);
    },
    async dashboardUrl() {
      const base = apiBase();
      return base + issueCode(ctx, new URL(base).host).path;
    },
    login: () => startLogin(ctx),
    async logout() {
      await logout(ctx);
    },
    async approve(code) {
      approveAccess(ctx, code);
    },
    apiBase,
  };
}

// The daemon's own tray's menu actions: the same service functions the control API's routes call, in-process (no HTTP, no token).
// Each service loads on its first click: an idle daemon showing the icon does not hold code only a click runs.
import type { DaemonContext } from "../src/core/component.ts";
import { baseUrlOf } from "../src/core/listen-url.ts";
import type { TrayActions } from "./tray-ports.ts";

export function localActions(ctx: DaemonContext): TrayActions {
  // The API's bound address (an ephemeral port in tests), else the configured one while it does not listen.
  const apiBase = () => ctx.services.apiUrl?.() ?? baseUrlOf(ctx.config.current().api.listen);
  const tunnel = () => import("../src/api/modules/tunnel/service.ts");
  const upstreams = () => import("../src/api/modules/upstreams/service.ts");
  const dashboard = () => import("../src/api/modules/dashboard/service.ts");
  const auth = () => import("../src/api/modules/auth/service.ts");
  return {
    async tunnel(action) {
      await (await tunnel()).tunnelAction(ctx, action);
    },
    async reconnect() {
      await (await upstreams()).reconnectAll(ctx);
    },
    async dashboardUrl() {
      const base = apiBase();
      return base + (await dashboard()).issueCode(ctx, new URL(base).host).path;
    },
    login: async () => (await auth()).startLogin(ctx),
    async logout() {
      await (await auth()).logout(ctx);
    },
    async approve(code) {
      (await dashboard()).approveAccess(ctx, code);
    },
    apiBase,
  };
}

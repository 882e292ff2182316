// The daemon component that runs the sign-in lifecycle and publishes it as ctx.services.auth.
import type { ComponentFactory } from "../core/component.ts";
import { AuthManager } from "./manager.ts";

export const createAuthComponent: ComponentFactory = (ctx) => {
  const manager = new AuthManager({
    config: () => ctx.config.current().auth,
    secrets: () => ctx.services.secrets,
    events: ctx.events,
  });
  return {
    name: "auth",
    async start() {
      ctx.services.auth = manager;
      await manager.start();
    },
    async stop() {
      await manager.stop();
    },
    // A refresh token only memory holds is stored again or revoked at stop: time for one call to the issuer.
    stopGraceMs: () => (manager.holdsUnstored() ? 5000 : 0),
    async apply(next, prev, changed) {
      if (changed.has("auth")) await manager.applyConfig(next.auth, prev.auth);
    },
  };
};

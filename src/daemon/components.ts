// The daemon's components in start order (stopped in reverse); each feature adds its factory here.
import type { ComponentFactory } from "../core/component.ts";
import { createApiComponent } from "../api/component.ts";
import { createSecretsComponent } from "../secrets/component.ts";
import { createBrokerComponent } from "../broker/component.ts";
import { createGatewayComponent } from "../gateway/component.ts";
import { createAuthComponent } from "../auth/component.ts";
import { createTunnelComponent } from "../tunnel/component.ts";
import { createAlertsComponent } from "../alerts/component.ts";
import { createInspectorComponent } from "../inspector/component.ts";
import { createMetricsHistory } from "../dashboard/history-component.ts";
import { createSdNotifyComponent } from "./sd-notify.ts";
import { createRequestLog } from "./request-log.ts";
import { createTrayComponent } from "./tray-component.ts";

export const COMPONENTS: ComponentFactory[] = [
  // One log line per request ([logging] requests); it only listens to request.completed. First, so it stops last: the
  // requests that end while the tunnel and the broker stop (their grace, "the daemon is stopping") get their line too.
  createRequestLog,
  // Secrets first: the others resolve tokens and API keys through ctx.services.secrets.
  createSecretsComponent,
  // The gateway before the broker: every request the broker serves (local or tunnel) is admitted by ctx.services.gateway.
  createGatewayComponent(),
  // The broker next: the tunnel, alerts and the API use ctx.services.broker.
  createBrokerComponent,
  // Sign-in after secrets (where its tokens live), before the tunnel (which reads its access token from ctx.services.auth).
  createAuthComponent,
  // The tunnel after the broker (it hands every stream to ctx.services.broker) and auth (its access token).
  createTunnelComponent,
  // Alerts after the broker and the tunnel (it reads broker metrics and listens to their events), before the API.
  createAlertsComponent,
  // The inspector only listens to request.completed; it must exist before the API serves /api/v1/requests.
  createInspectorComponent,
  // The dashboard's 15-minute chart history samples ctx.services.broker.
  createMetricsHistory,
  // The tray icon before the API: a `tray` command that finds the daemon (a leftover autostart) sees its icon already there.
  createTrayComponent,
  // The API starts last so that /readyz never reports components that are not there yet.
  createApiComponent,
  // After the API: READY=1 to systemd means the API listens.
  createSdNotifyComponent,
];

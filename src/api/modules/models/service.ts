// The merged model list: every model any upstream serves, and which upstreams serve it.
import type { DaemonContext } from "../../../core/component.ts";

export function modelList(ctx: DaemonContext): { name: string; upstreams: string[]; loaded: string[] }[] {
  return ctx.services.broker?.models() ?? [];
}

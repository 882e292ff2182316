// What a raised or cleared alert looks like as a desktop notification.
import type { Alert } from "../../core/contracts.ts";
import type { DesktopNotification } from "./notifier.ts";

const RULE_TITLE: Record<string, string> = {
  upstream_down: "Upstream down",
  quality: "Poor quality",
  error_rate: "Errors",
  tunnel_down: "Tunnel disconnected",
  login_required: "Sign-in required",
  config_rejected: "Config rejected",
};

export function alertNotification(type: "alert.raised" | "alert.cleared", a: Alert): DesktopNotification {
  const what = RULE_TITLE[a.rule] ?? a.rule;
  if (type === "alert.cleared") return { title: `Resolved: ${what}`, body: a.message, urgency: "low" };
  return { title: what, body: a.message, urgency: a.severity === "critical" ? "critical" : "normal" };
}

// What a raised or cleared alert looks like as a desktop notification.
import type { Alert } from "../../core/contracts.ts";
import type { DesktopNotification } from "./notifier.ts";

const RULE_TITLE: Record<string, string> = {
  upstream_down: "Upstream down",
  quality: "Poor quality",
  error_rate: "Errors",
  tunnel_down: "Tunnel disconnected",
  login_required: "Sign-in required",
  token_expired: "Access token expired",
  sign_in_unstored: "Sign-in not stored",
  config_rejected: "Config rejected",
};

export function alertNotification(type: "alert.raised" | "alert.cleared", a: Alert): DesktopNotification {
  // login_required also stands for a stored agent token the relay refuses: that needs `secret set`, not a sign-in.
  const what = a.rule === "login_required" && !a.message.startsWith("Sign-in required") ? "Tunnel token refused" : (RULE_TITLE[a.rule] ?? a.rule);
  if (type === "alert.cleared") return { title: `Resolved: ${what}`, body: a.message, urgency: "low" };
  return { title: what, body: a.message, urgency: a.severity === "critical" ? "critical" : "normal" };
}

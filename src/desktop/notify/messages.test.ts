// Unit tests for the notification text of an alert: the title names what needs doing.
import { expect, test } from "bun:test";
import { alertNotification } from "./messages.ts";

const alert = (message: string) => ({ id: "login_required", rule: "login_required", severity: "critical" as const, subject: "cloud", message, raisedAt: "2026-11-21T12:00:00Z" });

test("a refused stored token is titled as such, not as a sign-in", () => {
  expect(alertNotification("alert.raised", alert("Sign-in required: the refresh token expired. Run `cloudtolocalllm-tunnel login`")).title).toBe("Sign-in required");
  const refused = alertNotification("alert.raised", alert("The tunnel has no accepted credential: the relay refused the agent token (401). Fix: store the agent token the relay expects: `cloudtolocalllm-tunnel secret set tunnel-token`"));
  expect(refused).toMatchObject({ title: "Tunnel token refused", urgency: "critical" });
  expect(refused.body).toContain("secret set tunnel-token");
});

test("every rule the alerts raise has a title in words, not its id (token_expired was shown as \"token_expired\")", () => {
  for (const rule of ["upstream_down", "quality", "error_rate", "tunnel_down", "login_required", "token_expired", "config_rejected"]) {
    const n = alertNotification("alert.raised", { ...alert("Sign-in required: x"), id: rule, rule });
    expect({ rule, title: n.title }).not.toEqual({ rule, title: rule });
    expect(n.title).toMatch(/^[A-Z][a-z]/);
  }
  expect(alertNotification("alert.cleared", { ...alert("The access token was refreshed"), rule: "token_expired" }).title).toBe("Resolved: Access token expired");
});

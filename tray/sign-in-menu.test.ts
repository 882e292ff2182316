// The tray's sign-in menu items: "Sign in…" while signed out or a sign-in is required (with the user code once
// started), "Sign out" while signed in, neither when [auth] is not configured.
import { expect, test } from "bun:test";
import { buildView, type MenuItem, type TrayInput } from "./state.ts";
import { daemonStatus } from "../tests/desktop/fake-daemon.ts";
import type { AuthState, DaemonStatus } from "../src/core/contracts.ts";

function view(status: DaemonStatus | null, over: Partial<TrayInput> = {}) {
  return buildView({ status, linking: false, lastAlert: null, compatWarning: null, notifications: true, actionError: null, trayVersion: "3.0.0", apiBase: "http://127.0.0.1:8765", ...over });
}
const find = (items: MenuItem[], key: string): MenuItem | undefined => items.find((i) => i.key === key) ?? items.map((i) => find(i.children ?? [], key)).find(Boolean);
const withAuth = (state: AuthState, subject: string | null = null) => daemonStatus({ auth: { state, subject, expiresAt: null } });
const shown = (v: ReturnType<typeof view>) => ["auth.login", "auth.logout"].filter((k) => find(v.menu, k)?.visible);

test("which sign-in item shows in which auth state", () => {
  expect(shown(view(withAuth("disabled")))).toEqual([]);
  expect(shown(view(null))).toEqual([]);
  expect(shown(view(withAuth("signed_out")))).toEqual(["auth.login"]);
  expect(shown(view(withAuth("login_required")))).toEqual(["auth.login"]);
  expect(shown(view(withAuth("signed_in", "alice")))).toEqual(["auth.logout"]);
});

test("the items carry their actions; Sign in… shows the user code once started, Sign out names the account", () => {
  const out = view(withAuth("login_required"), { signInCode: "WDJB-MJHT" });
  expect(find(out.menu, "auth.login")).toMatchObject({ label: "Sign in… (code WDJB-MJHT)", action: "auth.login", visible: true });
  expect(find(view(withAuth("signed_out")).menu, "auth.login")!.label).toBe("Sign in…");
  expect(find(view(withAuth("signed_in", "alice")).menu, "auth.logout")).toMatchObject({ label: "Sign out (alice)", action: "auth.logout", visible: true });
});

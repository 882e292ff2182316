// Owns what public routes show only to a caller holding the API token or a dashboard session: a pending device
// sign-in's code and URL.
//
// Whoever enters that code first finishes the sign-in with their own account (RFC 8628 §5.4, remote phishing): another
// user of this machine who read it from a public route could race the owner and have the daemon, and its tunnel, run
// on their account. The CLI's `login`, the tray and the dashboard read it with credentials; nobody else needs it.
import type { DaemonEvent } from "../../core/events.ts";
import type { ApiDeps } from "../deps.ts";
import { fromOtherUser, type PeerSource } from "../../net/peer-uid.ts";
import { authenticate } from "./auth.ts";
import { sessionsFor } from "./sessions.ts";

/** Whether the request carries the API token or a dashboard session of the daemon's user (a public route answers either way). */
export function holdsCredentials(request: Request, deps: ApiDeps, server: unknown): boolean {
  return authenticate(request, { token: deps.token(), sessions: sessionsFor(deps.ctx), fromOtherUser: () => fromOtherUser(server as PeerSource | null, request) }).ok;
}

/** A sign-in state for a caller without credentials: whether one is pending stays visible (`pending`), its code does not. */
export function withoutPendingCode<T extends { pending: unknown }>(status: T): T {
  return status.pending ? { ...status, pending: null, pendingSignIn: true } : status;
}

/** An event for a caller without credentials: a device sign-in's progress without its code or URL. */
export function withoutSignInCode(e: DaemonEvent): DaemonEvent {
  if (e.type !== "auth.progress" || (e.data.userCode === undefined && e.data.verificationUri === undefined)) return e;
  return { ...e, data: { step: e.data.step, message: "A device sign-in is waiting: its code is shown to the daemon's owner (`cloudtolocalllm-tunnel login`, the tray or the dashboard)." } };
}

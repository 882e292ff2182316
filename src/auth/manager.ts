// The daemon's sign-in lifecycle: loads the session, refreshes it before expiry, rotates refresh tokens, reports state.
import { CONFIG_SCHEMA } from "../config/config-check.generated.ts";
import { resolveBy } from "../config/resolve.ts";
import type * as client from "openid-client";
import type { AuthService, AuthState, AuthStatus, SecretStore } from "../core/contracts.ts";
import type { EventBus } from "../core/events.ts";
import { logger } from "../core/log.ts";
import { audienceParams, discover, grantErrorMessage, isPermanentGrantError, openidClient, revokeRefreshToken, type AuthConfig } from "./oidc.ts";
import { clearSession, loadSession, parseSession, saveSession, SESSION_SECRET, sessionFromTokens, type AuthSession } from "./session.ts";
import { startDeviceLogin, type DeviceLogin } from "./device-flow.ts";
import { SignInNotStorableError } from "./sign-in-not-storable.ts";
import { STORE_RETRY_S, unstoredSignIn } from "../core/sign-in-text.ts";

const log = logger("auth");

export type { AuthService, AuthStatus };


export interface AuthManagerDeps {
  config(): AuthConfig;
  secrets(): SecretStore | undefined;
  events: EventBus;
  /** Backoff for transient refresh failures (network, 5xx). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** At most one refresh grant per this interval, whatever asks (timer, callers, retries). Default 2 s. */
  minGrantIntervalMs?: number;
  /** How often tokens the store refused are offered to it again. Default STORE_RETRY_S. */
  storeRetryMs?: number;
}

const MIN_REFRESH_DELAY_MS = 1000;
const MIN_GRANT_INTERVAL_MS = 2000;
/** While the tokens in use could not be stored, the store is tried again this often (a keyring unlocked meanwhile). */
const STORE_RETRY_MS = STORE_RETRY_S * 1000;

/**
 * When a session's access token is due for a refresh: `refresh_before` ahead of its expiry, but never earlier than half
 * its life (a 30 s token with refresh_before = 60 s is refreshed after 15 s, not at once). Infinity: no expiry known.
 */
export function refreshDueAt(s: Pick<AuthSession, "expiresAt" | "issuedAt">, refreshBeforeMs: number, loadedAt: number): number {
  if (s.expiresAt === null) return Infinity;
  const lifetime = Math.max(0, s.expiresAt - (s.issuedAt ?? loadedAt));
  return s.expiresAt - Math.min(refreshBeforeMs, lifetime / 2);
}

export class AuthManager implements AuthService {
  private session: AuthSession | null = null;
  private state: AuthState = "disabled";
  private reason: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private refreshing: Promise<void> | null = null;
  private failures = 0;
  /** Why the last refresh failed and when the next one is due, while refreshes fail. */
  private lastError: string | null = null;
  private nextRetryAt: number | null = null;
  private tokenExpired = false;
  private expiryTimer: ReturnType<typeof setTimeout> | null = null;
  /**
   * When the last grant was sent (performance.now(): a span, so a system clock set back an hour does not hold every
   * refresh back for that hour): refreshes are rate-bounded whatever the settings and callers.
   */
  private lastGrantAt = -Infinity;
  /** A refresh succeeded since the session was loaded: the stored refresh token is the issuer's current one. */
  private confirmed = false;
  private oidc: client.Configuration | null = null;
  /** The refresh token of the session last read from or written to the store: another process's change shows against it. */
  private storedRefreshToken: string | null = null;
  private device: DeviceLogin | null = null;
  /** A device sign-in being started: callers meanwhile (a second click, another client) share it. */
  private deviceStart: Promise<NonNullable<AuthStatus["pending"]>> | null = null;
  /** Counts sign-outs: a device sign-in whose start straddled one is dropped, not left polling after it. */
  private signOuts = 0;
  private listeners = new Set<(t: string | null) => void>();
  private stopped = false;
  /** Why the store refused the tokens in use (a locked keyring), while it holds another session or none. */
  private unstoredWhy: string | null = null;
  /** The `unstored` sentence last announced in an auth.state event: a change is announced even when the state is not. */
  private announcedUnstored: string | null = null;
  /**
   * Refresh tokens of the sign-in a new one replaced, still in the store because the new one could not be stored yet:
   * revoked once it is (until then they are what the next start signs in with).
   */
  private replacedGrants: string[] = [];
  private storeRetry: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly deps: AuthManagerDeps) {}

  private get auth(): AuthConfig {
    return this.deps.config();
  }
  private store(): SecretStore {
    const s = this.deps.secrets();
    if (!s) throw new Error("No secret store is available to keep the sign-in tokens.");
    return s;
  }

  status(): AuthStatus {
    const d = this.device;
    return {
      state: this.state,
      subject: this.session?.subject ?? null,
      name: this.session?.name ?? null,
      expiresAt: this.session?.expiresAt ? new Date(this.session.expiresAt).toISOString() : null,
      reason: this.reason,
      refresh: this.trouble(),
      unstored: this.unstored(),
      pending: d ? { verificationUri: d.verificationUri, verificationUriComplete: d.verificationUriComplete, userCode: d.userCode, expiresAt: d.expiresAt } : null,
    };
  }

  /** Signed in with tokens the store refused: the sentence saying it lasts for this run only, and what to do; else null. */
  private unstored(): string | null {
    return this.state === "signed_in" && this.holdsUnstored() ? unstoredSignIn(this.unstoredWhy ?? "the secret store refused them") : null;
  }

  private trouble(): AuthStatus["refresh"] {
    if (this.failures === 0 || !this.lastError) return null;
    return { lastError: this.lastError, attempt: this.failures, nextRetryAt: this.nextRetryAt ? new Date(this.nextRetryAt).toISOString() : null, tokenExpired: this.tokenExpired };
  }

  onToken(cb: (token: string | null) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private notify(token: string | null): void {
    for (const cb of this.listeners) {
      try {
        cb(token);
      } catch (e) {
        log.warn("an access-token subscriber failed", { error: e });
      }
    }
  }

  private setState(state: AuthState, reason: string | null = null): void {
    const changed = state !== this.state || reason !== this.reason || this.unstored() !== this.announcedUnstored;
    this.state = state;
    this.reason = reason;
    if (!changed) return;
    const s = this.status();
    this.announcedUnstored = s.unstored ?? null;
    this.deps.events.emit("auth.state", {
      state,
      ...(s.subject ? { subject: s.subject } : {}),
      ...(s.expiresAt ? { expiresAt: s.expiresAt } : {}),
      ...(reason ? { reason } : {}),
      ...(s.refresh ? { refresh: s.refresh } : {}),
      ...(s.unstored ? { unstored: s.unstored } : {}),
    });
    if (state === "login_required") log.warn("sign-in required", { reason });
    else log.info("sign-in state", { state, ...(reason ? { reason } : {}) });
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.reload();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    this.clearExpiryTimer();
    this.clearStoreRetry();
    this.device?.cancel();
    this.device = null;
    await this.refreshing?.catch(() => {});
    await this.keepOrRevoke();
  }

  /** The current session's refresh token never reached the store (it failed: a locked keyring): only memory holds it. */
  holdsUnstored(): boolean {
    const t = this.session?.refreshToken;
    return !!t && t !== this.storedRefreshToken;
  }

  /**
   * At stop, a refresh token only this process holds is stored once more (the keyring may be unlocked by now), else
   * revoked: after this process nothing could use it or sign it out, yet the issuer would honour it until it expires.
   */
  private async keepOrRevoke(): Promise<void> {
    const s = this.session;
    if (!s?.refreshToken || !this.holdsUnstored()) return;
    if (await this.persist(s, "could not store the sign-in tokens at stop; revoking the refresh token, and the next start will need a new sign-in")) return;
    await this.revokeDropped(s.refreshToken, "it could not be stored");
  }

  /** Revokes a live refresh token this process drops without anything keeping it (RFC 7009); best effort, logged. */
  private async revokeDropped(token: string, why: string): Promise<void> {
    let problem: string | null;
    try {
      problem = await revokeRefreshToken(await this.client(), token);
    } catch (e) {
      problem = grantErrorMessage(e);
    }
    if (problem) log.warn("a refresh token that nothing keeps could not be revoked at the issuer", { why, error: problem });
    else log.info("revoked a refresh token that nothing keeps", { why });
  }

  /** After a change of [auth] (the caller knows it changed): a different issuer or client means the stored session no longer applies. */
  async applyConfig(next: AuthConfig, prev: AuthConfig): Promise<void> {
    this.oidc = null;
    if (next.issuer !== prev.issuer || next.client_id !== prev.client_id || next.audience !== prev.audience) await this.reload();
    else this.schedule();
  }

  async reload(): Promise<void> {
    this.clearTimer();
    this.clearStoreRetry();
    this.resetTrouble();
    this.confirmed = false;
    // What the store holds now is taken as it is: a `login` elsewhere revoked the session it replaced itself.
    this.replacedGrants = [];
    // A session only this process holds (its store failed) is replaced by what the store holds: revoked, not just lost.
    const unstored = this.holdsUnstored() && this.session!.issuer === this.auth.issuer ? this.session!.refreshToken! : null;
    try {
      await this.load();
    } finally {
      if (unstored && this.session?.refreshToken !== unstored) await this.revokeDropped(unstored, "the stored sign-in replaced it");
    }
  }

  private async load(): Promise<void> {
    const auth = this.auth;
    if (!auth.issuer || !auth.client_id) {
      this.session = null;
      this.setState("disabled");
      return;
    }
    let session: AuthSession | null = null;
    let storeError: string | null = null;
    try {
      session = await loadSession(this.store());
    } catch (e) {
      // E.g. a locked keyring: say so instead of pretending nobody ever signed in.
      storeError = `the stored sign-in could not be read: ${(e as Error).message}`;
      log.error("could not read the sign-in session from the secret store", { error: e });
    }
    const prevToken = this.session?.accessToken ?? null;
    if (session && (session.issuer !== auth.issuer || session.clientId !== auth.client_id)) {
      this.session = null;
      this.setState("login_required", "the configured issuer or client changed since the last sign-in");
      if (prevToken) this.notify(null);
      return;
    }
    if (session) session.issuedAt ??= Date.now();
    if (!storeError) this.storedRefreshToken = session?.refreshToken ?? null;
    this.session = session;
    if (!session) {
      this.setState("signed_out", storeError);
      if (prevToken) this.notify(null);
      return;
    }
    this.setState("signed_in");
    if (session.accessToken !== prevToken) this.notify(this.validToken());
    this.schedule();
  }

  private validToken(): string | null {
    const s = this.session;
    if (!s) return null;
    if (s.expiresAt !== null && s.expiresAt <= Date.now()) return null;
    return s.accessToken;
  }

  async accessToken(): Promise<string | null> {
    if (this.state !== "signed_in" || !this.session) return null;
    // The same rule as the timer's (half the life for short tokens); while refreshes fail, the backoff decides.
    if (this.session.refreshToken && this.failures === 0 && Date.now() >= this.dueAt(this.session)) await this.refreshNow().catch(() => {});
    return this.validToken();
  }

  private dueAt(s: AuthSession): number {
    return refreshDueAt(s, resolveBy(CONFIG_SCHEMA.properties.auth, this.auth).refresh_before, Date.now());
  }

  private get minGrantMs(): number {
    return this.deps.minGrantIntervalMs ?? MIN_GRANT_INTERVAL_MS;
  }

  /** How long the rate bound still holds the next grant back (≤ 0: not at all). */
  private grantWaitMs(): number {
    return this.lastGrantAt + this.minGrantMs - performance.now();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private clearExpiryTimer(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
  }

  private resetTrouble(): void {
    this.failures = 0;
    this.lastError = null;
    this.nextRetryAt = null;
    this.tokenExpired = false;
    this.clearExpiryTimer();
  }

  private schedule(delayMs?: number): void {
    this.clearTimer();
    const s = this.session;
    if (this.stopped || this.state !== "signed_in" || !s?.refreshToken) return;
    if (delayMs === undefined) {
      if (s.expiresAt === null) return;
      delayMs = Math.max(MIN_REFRESH_DELAY_MS, this.dueAt(s) - Date.now());
    }
    // Never sooner than the rate bound allows.
    delayMs = Math.max(delayMs, this.grantWaitMs());
    this.timer = setTimeout(() => void this.refreshNow().catch(() => {}), delayMs);
  }

  private async client(): Promise<client.Configuration> {
    return (this.oidc ??= await discover(this.auth));
  }

  /** One refresh at a time; concurrent callers share it. */
  refreshNow(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => (this.refreshing = null));
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const s = this.session;
    if (!s?.refreshToken || this.state !== "signed_in") return;
    // Rate bound: whoever asks, at most one grant per interval; the timer picks the refresh up when it is allowed.
    if (this.grantWaitMs() > 0) {
      if (!this.timer) this.schedule(this.grantWaitMs());
      return;
    }
    let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>> | undefined;
    let used = s.refreshToken;
    try {
      tokens = await this.grant(s.refreshToken);
    } catch (e) {
      // Right after a start, a crash may have lost the confirmation of the rotated token: try the one it replaced, once.
      const prev = s.previousRefreshToken;
      // Only on invalid_grant: a strict issuer revokes the whole grant when it sees a consumed token, so nothing else is worth that.
      if ((e as { error?: string })?.error === "invalid_grant" && !this.confirmed && prev && prev !== s.refreshToken && this.session === s) {
        log.warn("the stored refresh token was refused; trying the previous one once", { error: grantErrorMessage(e) });
        try {
          tokens = await this.grant(prev, true);
          used = prev;
        } catch {
          // Report the first refusal: it is the one about the current token.
        }
      }
      if (!tokens) return this.refreshFailed(s, e);
    }
    // The refresh token may have rotated: the old one is dead at the issuer, so the new one is stored before anything
    // else happens, even while stopping (else the next start has only a consumed token). Not after a sign-out or a new
    // sign-in meanwhile: that session is not ours to overwrite.
    if (this.session !== s) return;
    // `logout` or `login` in another process (the CLI) changed the store while the grant was on its way: writing this
    // session back would undo that. Take what the store holds now instead.
    if (await this.storeChangedElsewhere()) {
      // The rotated refresh token just issued is dropped, and is ours alone: revoked (the one it replaced is spent).
      const rotated = tokens.refresh_token && tokens.refresh_token !== used ? tokens.refresh_token : null;
      if (rotated) await this.revokeDropped(rotated, "the stored sign-in changed in another process during a refresh");
      if (this.session !== s) return;
      log.info("the stored sign-in changed in another process during a refresh; using the stored one");
      return this.reload();
    }
    if (this.session !== s) return;
    const next = sessionFromTokens(tokens, { issuer: s.issuer, clientId: s.clientId }, { ...s, refreshToken: used });
    if (this.stopped) {
      const kept = await this.persist(next, "could not store the refreshed tokens while stopping; the next start will need a new sign-in");
      // Not kept: the issuer would honour it until it expires, with nothing holding it after this process.
      if (!kept && next.refreshToken && next.refreshToken !== this.storedRefreshToken) await this.revokeDropped(next.refreshToken, "it could not be stored while stopping");
      // What stop() looks at next (keepOrRevoke) is this refresh's outcome, never the session it replaced, which it
      // would write back over the one just stored.
      this.session = kept ? next : null;
      return;
    }
    this.confirmed = true;
    await this.adopt(next, "could not store the refreshed tokens; the next restart will need a new sign-in", () => {
      this.deps.events.emit("auth.progress", { step: "refreshed", message: "The access token was refreshed." });
      if (this.reason) this.setState("signed_in");
      log.info("access token refreshed", { expiresAt: next.expiresAt ? new Date(next.expiresAt).toISOString() : undefined });
    });
  }

  /** One refresh grant; the first try of a refresh counts toward the rate bound. */
  private async grant(refreshToken: string, again = false): Promise<Awaited<ReturnType<typeof client.refreshTokenGrant>>> {
    if (!again) this.lastGrantAt = performance.now();
    const config = await this.client();
    return (await openidClient()).refreshTokenGrant(config, refreshToken, audienceParams(this.auth));
  }

  private async refreshFailed(s: AuthSession, e: unknown): Promise<void> {
    if (this.session !== s) return; // signed out or in again meanwhile
    const msg = grantErrorMessage(e);
    if (isPermanentGrantError(e)) {
      // A `login` in another process replaced the stored sign-in and revoked the one refreshed here (before its call
      // telling the daemon arrived): the store holds a good session, which deleting would sign out. Take it instead.
      if (await this.storeChangedElsewhere()) {
        if (this.session !== s) return;
        log.info("the refresh token was refused, and the stored sign-in changed in another process; using the stored one");
        return this.reload();
      }
      if (this.session !== s) return;
      // The refresh token is dead (revoked, expired, rotated away): only a new sign-in helps; do not retry.
      this.session = null;
      this.resetTrouble();
      this.clearStoreRetry();
      await clearSession(this.store()).then(
        // A sign-in this one replaced, still stored because this one never was, is deleted with it: revoked first.
        async () => ((this.storedRefreshToken = null), await this.revokeReplaced("the stored sign-in it was to replace was deleted")),
        () => {},
      );
      this.setState("login_required", `the session could not be refreshed (${msg})`);
      this.notify(null);
      this.deps.events.emit("auth.progress", { step: "failed", message: `Refreshing the sign-in failed: ${msg}. Sign in again.` });
      return;
    }
    // Network or server trouble: retry with bounded exponential backoff, and say so in the state (API, status, tray).
    this.failures++;
    if (this.failures > 1) this.oidc = null;
    const initial = this.deps.retryInitialMs ?? 2000;
    const max = this.deps.retryMaxMs ?? 300_000;
    const delay = Math.max(Math.min(max, initial * 2 ** (this.failures - 1)), this.grantWaitMs());
    this.lastError = msg;
    this.nextRetryAt = Date.now() + delay;
    log.warn("refreshing the access token failed; will retry", { error: msg, attempt: this.failures, retryInMs: delay });
    this.schedule(delay);
    this.watchExpiry(s);
    this.setState("signed_in", this.troubleReason());
    throw new Error(`Refreshing the access token failed: ${msg}`);
  }

  private troubleReason(): string {
    const what = this.tokenExpired ? "the access token expired and could not be refreshed" : "refreshing the access token failed";
    const next = this.nextRetryAt ? `; next attempt at ${new Date(this.nextRetryAt).toISOString()}` : "";
    return `${what} (attempt ${this.failures}: ${this.lastError})${next}`;
  }

  /** While refreshes fail: when the access token runs out, say so (the alerts component raises "token expired"). */
  private watchExpiry(s: AuthSession): void {
    if (this.expiryTimer || this.tokenExpired || s.expiresAt === null) return;
    const fire = () => {
      this.expiryTimer = null;
      if (this.session !== s || this.failures === 0 || this.state !== "signed_in") return;
      this.tokenExpired = true;
      log.error("the access token expired before a refresh succeeded", { attempt: this.failures, error: this.lastError });
      this.setState("signed_in", this.troubleReason());
    };
    const left = s.expiresAt - Date.now();
    if (left <= 0) fire();
    else this.expiryTimer = setTimeout(fire, Math.min(left, 2 ** 31 - 1));
  }

  /** Whether the store's session is no longer the one this manager last read or wrote (false when it cannot be read). */
  private async storeChangedElsewhere(): Promise<boolean> {
    try {
      const store = this.store();
      // A session given in CLOUDTOLOCALLLM_SECRET_AUTH_SESSION reads the same whatever is written: nothing to compare.
      if ((store as { fromEnv?(name: string): boolean }).fromEnv?.(SESSION_SECRET)) return false;
      const stored = await loadSession(store);
      return (stored?.refreshToken ?? null) !== this.storedRefreshToken;
    } catch {
      return false;
    }
  }

  /**
   * Stores the session; false (logged, and said in the status while its tokens are in use) when the store refused it.
   * Stored, it has replaced any sign-in a new one was to replace: that grant is revoked now, not before (a new sign-in
   * that is never stored leaves the old one where the next start finds it).
   */
  private async persist(session: AuthSession, storeFailure: string, retry = false): Promise<boolean> {
    try {
      await saveSession(this.store(), session);
      this.storedRefreshToken = session.refreshToken;
      this.unstoredWhy = null;
      this.clearStoreRetry();
      await this.revokeReplaced("a new sign-in replaced it");
      return true;
    } catch (e) {
      const why = (e as Error)?.message ?? String(e);
      // A retry refused for the cause already logged says nothing new (a full disk stays full for hours): one line per
      // cause, not one per retry; the status says it all along.
      if (!retry || why !== this.unstoredWhy) log.error(storeFailure, { error: e });
      this.unstoredWhy = why;
      return false;
    }
  }

  private async revokeReplaced(why: string): Promise<void> {
    const tokens = this.replacedGrants;
    this.replacedGrants = [];
    for (const t of tokens) await this.revokeDropped(t, why);
  }

  private clearStoreRetry(): void {
    if (this.storeRetry) clearTimeout(this.storeRetry);
    this.storeRetry = null;
  }

  /**
   * While the tokens in use are not stored, the store is tried again now and then: a keyring unlocked meanwhile takes
   * them within seconds, not at the next refresh (maybe an hour away) or the stop. Not over another process's change.
   */
  private scheduleStoreRetry(): void {
    if (this.storeRetry || this.stopped || !this.holdsUnstored()) return;
    this.storeRetry = setTimeout(async () => {
      this.storeRetry = null;
      const s = this.session;
      if (!s || this.stopped || this.refreshing || !this.holdsUnstored()) return this.scheduleStoreRetry();
      const problem = await Promise.resolve(this.deps.secrets()?.checkWritable?.()).catch((e: Error) => e.message);
      if (problem || (await this.storeChangedElsewhere()) || this.session !== s || this.refreshing) return this.scheduleStoreRetry();
      if (await this.persist(s, "could not store the sign-in tokens (retrying)", true)) {
        log.info("stored the sign-in tokens the secret store refused earlier");
        if (this.state === "signed_in") this.setState("signed_in", this.reason);
      } else this.scheduleStoreRetry();
    }, this.deps.storeRetryMs ?? STORE_RETRY_MS);
    (this.storeRetry as { unref?(): void }).unref?.();
  }

  /** Tokens fresh from the issuer: stored first (best effort, they still serve this run), made current, announced, refresh scheduled. */
  private async adopt(session: AuthSession, storeFailure: string, announce: () => void): Promise<void> {
    await this.persist(session, storeFailure);
    this.session = session;
    this.resetTrouble();
    announce();
    // Stored or not (signed in for this run only) shows in the state even when nothing else changed.
    if (this.state === "signed_in") this.setState("signed_in", this.reason);
    this.notify(session.accessToken);
    this.schedule();
    this.scheduleStoreRetry();
  }

  startDeviceLogin(): Promise<NonNullable<AuthStatus["pending"]>> {
    if (this.device) return Promise.resolve(this.status().pending!);
    // Two starts at once would each get a code, and the first one's approval would be dropped (it is no longer
    // this.device): one start at a time, shared.
    if (this.deviceStart) return this.deviceStart;
    const starting = this.beginDeviceLogin().finally(() => {
      if (this.deviceStart === starting) this.deviceStart = null;
    });
    return (this.deviceStart = starting);
  }

  private async beginDeviceLogin(): Promise<NonNullable<AuthStatus["pending"]>> {
    const signOuts = this.signOuts;
    // Where the tokens will go is checked before the issuer is asked, as `login` does, and now, not at the daemon's start:
    // a keyring locked since would let the grant be made and then not kept (signed in for this run only, and a live
    // refresh token that nothing holds).
    const problem = await this.store().checkWritable?.();
    if (problem) throw new SignInNotStorableError(problem);
    const d = await startDeviceLogin(this.auth, await this.client());
    if (signOuts !== this.signOuts || this.stopped) {
      d.cancel();
      throw new Error("The sign-in was cancelled: signed out while it was starting.");
    }
    this.device = d;
    const pending = this.status().pending!;
    this.deps.events.emit("auth.progress", {
      step: "device_code",
      message: `Open ${d.verificationUri} and enter the code ${d.userCode}.`,
      verificationUri: d.verificationUriComplete ?? d.verificationUri,
      userCode: d.userCode,
    });
    this.deps.events.emit("auth.progress", { step: "waiting", message: "Waiting for the sign-in to be approved in the browser." });
    d.result.then(
      async (session) => {
        if (this.device !== d) return;
        this.device = null;
        this.confirmed = true;
        // A sign-in over another (signed in already, or a session the store holds): the one replaced would stay live
        // at the issuer with nothing holding it. Revoked once this one is stored (persist), not before: if it cannot
        // be, the old one stays in the store for the next start. One only memory held is dropped now: revoked now.
        const held = this.holdsUnstored() && this.sameClient(this.session!) ? this.session!.refreshToken! : null;
        this.replacedGrants = await this.replacedBy(session);
        await this.adopt(session, "could not store the sign-in tokens", () => {
          this.setState("signed_in");
          const who = session.name || session.subject ? ` as ${session.name ?? session.subject}` : "";
          const unstored = this.unstored();
          this.deps.events.emit("auth.progress", { step: "signed_in", message: unstored ? `Signed in${who}, ${unstored}` : `Signed in${who}.` });
        });
        if (held && held !== session.refreshToken && !this.replacedGrants.includes(held)) await this.revokeDropped(held, "a new sign-in replaced it");
      },
      (e) => {
        if (this.device !== d) return;
        this.device = null;
        this.deps.events.emit("auth.progress", { step: "failed", message: `The sign-in did not complete: ${grantErrorMessage(e)}.` });
      },
    );
    return pending;
  }

  private sameClient(s: Pick<AuthSession, "issuer" | "clientId">): boolean {
    return s.issuer === this.auth.issuer && s.clientId === this.auth.client_id;
  }

  /** The stored sign-in's refresh token a new one replaces, when it is of this issuer and client and another grant. */
  private async replacedBy(next: AuthSession): Promise<string[]> {
    let stored: AuthSession | null;
    try {
      const store = this.store();
      // A session given in CLOUDTOLOCALLLM_SECRET_AUTH_SESSION is not replaced by a write: the next start reads it again.
      if ((store as { fromEnv?(name: string): boolean }).fromEnv?.(SESSION_SECRET)) return [];
      stored = await loadSession(store);
    } catch {
      // Unreadable (a locked keyring): what this process last read or wrote there.
      const t = this.storedRefreshToken;
      stored = t && this.session?.refreshToken === t ? this.session : null;
    }
    const t = stored?.refreshToken;
    return t && t !== next.refreshToken && this.sameClient(stored!) ? [t] : [];
  }

  /** The session a fallback file kept beside the keyring, when it is of this issuer and client (else not ours to revoke). */
  private async leftoverSession(): Promise<AuthSession | null> {
    try {
      const old = parseSession((await this.deps.secrets()?.leftover?.(SESSION_SECRET)) ?? null);
      return old && old.issuer === this.auth.issuer && old.clientId === this.auth.client_id ? old : null;
    } catch {
      return null;
    }
  }

  async logout(): Promise<void> {
    this.signOuts++;
    this.deviceStart = null;
    this.device?.cancel();
    this.device = null;
    this.clearTimer();
    this.resetTrouble();
    const s = this.session;
    this.session = null;
    // Best effort: revoke at the issuer so the refresh token is useless even if a copy leaked. The copy a fallback file
    // kept from a sign-in without a keyring is deleted below with the session: its refresh token is revoked too, while
    // it is still known (the issuer would honour it with nothing left to sign it out).
    const tokens = new Set<string>(this.replacedGrants);
    this.replacedGrants = [];
    this.clearStoreRetry();
    if (s?.refreshToken) tokens.add(s.refreshToken);
    const old = await this.leftoverSession();
    if (old?.refreshToken) tokens.add(old.refreshToken);
    for (const token of tokens) {
      try {
        const problem = await revokeRefreshToken(await this.client(), token);
        if (problem) log.debug("revoking the refresh token failed", { error: problem });
      } catch (e) {
        log.debug("revoking the refresh token failed", { error: grantErrorMessage(e) });
      }
    }
    let storeError: unknown = null;
    try {
      await clearSession(this.store());
      this.storedRefreshToken = null;
    } catch (e) {
      storeError = e;
      log.error("could not delete the sign-in tokens from the secret store", { error: e });
    }
    if (this.state !== "disabled") this.setState("signed_out");
    this.deps.events.emit("auth.progress", { step: "signed_out", message: "Signed out." });
    if (s) this.notify(null);
    // This process no longer uses the tokens, but they are still stored (a locked keyring): the next start or reload
    // would sign in with them again. The caller must hear it (CLI exit 1, the API's 503, the tray's error line).
    if (storeError) throw storeError;
  }
}

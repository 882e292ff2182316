// End to end (issue 28 item 3): a request resumed across a lost relay connection is marked in the dashboard's inspector,
// in headless Debian Chromium: the row's "resumed" badge and the detail's Resumed field; an ordinary request has neither.
import { expect } from "bun:test";
import type { Page } from "playwright-core";
import { requireTools } from "../helpers/requires.ts";
import type { DaemonProc } from "../helpers/daemon.ts";
import { startFakeOllama, type FakeOllama } from "../helpers/fake-ollama.ts";
import { openDashboard, type DashboardBrowser } from "../helpers/dashboard-browser.ts";
import { until } from "../helpers/until.ts";
import { cleanup, daemonToml, relayToml, startAgentDaemon, startRelayProc, type RelayProc } from "../tunnel/helpers.ts";
import { DIALECTS, pauseRelayPastTolerance, streamingCall, tokensIn } from "../tunnel/resume-helpers.ts";

const { afterAll, beforeAll, describe, test } = requireTools(["chromium"]);

const NDJSON = DIALECTS[0];
/**
 * Tokens of each answer (60 ms apart): one still generating when the relay wakes, one whose upstream finishes while the
 * relay sleeps (after the agent lost the session: its record is made before its resume), and an ordinary one.
 */
const LONG = 100;
const SHORT = 40;
const PLAIN = 3;
let fake: FakeOllama;
let relay: RelayProc;
let daemon: DaemonProc;
let browser: DashboardBrowser;
let page: Page;
let token: string;

interface Listed {
  id: string;
  source: string;
  path: string;
  completionTokens: number | null;
  resumed?: { count: number; replayedBytes: number };
}

/** An NDJSON generation of `tokens` tokens through the tunnel. */
const call = (tokens: number) => streamingCall(relay.url, { path: NDJSON.path, body: { ...NDJSON.body, options: { num_predict: tokens } } });
const count = (n: number) => Array.from({ length: n }, (_, k) => k);

/** The daemon's records of tunnel answers, by their token counts, once there are `n`. */
function tunnelRecords(n: number): Promise<Record<number, Listed>> {
  return until(async () => {
    const r = (await (await fetch(`${daemon.urls.api}/api/v1/requests`, { headers: { Authorization: `Bearer ${token}` } })).json()) as { requests: Listed[] };
    const mine = r.requests.filter((x) => x.source === "tunnel" && x.path === NDJSON.path);
    return mine.length === n ? Object.fromEntries(mine.map((x) => [x.completionTokens, x])) : null;
  }, 10_000, `${n} tunnel records`);
}

beforeAll(async () => {
  [fake, relay] = await Promise.all([startFakeOllama({ tokenDelayMs: 60 }), startRelayProc(relayToml({ extra: 'resume_window = "20s"' }))]);
  // From source: the page is bundled by a macro when the daemon starts, so it is the page in the worktree.
  daemon = await startAgentDaemon(daemonToml({ upstream: fake.url, relayUrl: `${relay.url.replace(/^http/, "ws")}/agent` }));
  token = (await Bun.file(`${daemon.home}/.config/cloudtolocalllm/api-token`).text()).trim();
  browser = await openDashboard(daemon);
  page = browser.page;
  await page.locator("#tab-requests").click();
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
  relay?.proc.kill("SIGCONT");
  await relay?.stop("SIGKILL");
  await fake?.stop();
  cleanup(daemon?.home, relay?.dir);
}, 20_000);

describe("the inspector marks a resumed request", () => {
  test("answers resumed after the relay was paused past the heartbeat tolerance show the badge and the Resumed field, live and after a reload; an ordinary one shows neither", async () => {
    const long = call(LONG);
    const short = call(SHORT);
    await Promise.all([long.started, short.started]);
    // The short answer's record is made (its upstream done) while the relay still sleeps and before its resume.
    await pauseRelayPastTolerance(relay, daemon, () => tunnelRecords(1));
    expect(tokensIn(await long.done)).toEqual(count(LONG));
    expect(tokensIn(await short.done)).toEqual(count(SHORT));
    // An ordinary answer through the same tunnel afterwards.
    expect(tokensIn(await call(PLAIN).done)).toEqual(count(PLAIN));

    const recs = await tunnelRecords(3);
    for (const n of [LONG, SHORT]) expect(recs[n]!.resumed).toEqual({ count: 1, replayedBytes: expect.any(Number) });
    // A held answer carries a mark from the start (count 0) whether or not it is ever resumed.
    expect(recs[PLAIN]!.resumed?.count ?? 0).toBe(0);

    const row = (n: number) => page.locator(`#requests-body tr[data-request="${recs[n]!.id}"]`);
    const badges = async () => Promise.all([LONG, SHORT, PLAIN].map((n) => row(n).locator(".badge.resumed").count()));
    // Live: the long answer's record came after its resume; the short one's came first (its upstream finished while the
    // relay slept), and its resume follows as request.resumed.
    for (const n of [LONG, SHORT, PLAIN]) await row(n).waitFor({ timeout: 10_000 });
    await row(SHORT).locator(".badge.resumed").waitFor({ timeout: 5_000 }).catch(() => {});
    expect(await badges()).toEqual([1, 1, 0]);
    const badge = row(LONG).locator(".badge.resumed");
    expect(await badge.textContent()).toBe("resumed");
    expect(await badge.getAttribute("title")).toBe("resumed after the relay connection was lost");
    expect(await row(PLAIN).textContent()).not.toContain("resumed");

    const resumedLabel = page.locator("#request-fields dt:text-is('Resumed')");
    const open = async (n: number) => {
      await row(n).locator("button").click();
      await page.locator("#request-fields dd", { hasText: recs[n]!.id }).waitFor();
    };
    for (const n of [LONG, SHORT]) {
      await open(n);
      expect(await resumedLabel.count()).toBe(1);
      expect(await page.locator("#request-fields dt:text-is('Resumed') + dd").textContent()).toMatch(/^1× after the relay connection was lost \(\d[^)]* sent again\)$/);
    }
    await open(PLAIN);
    expect(await resumedLabel.count()).toBe(0);

    // After a reload (the records fetched, not pushed) the marks are the same.
    await page.reload();
    await page.locator("#live[data-state=live]").waitFor({ timeout: 10_000 });
    await page.locator("#tab-requests").click();
    for (const n of [LONG, SHORT, PLAIN]) await row(n).waitFor({ timeout: 10_000 });
    expect(await badges()).toEqual([1, 1, 0]);
  }, 30_000);
});

// The chat page's script: connect with a tunnel id and client key, list the tunnel's models, stream a chat answer
// (NDJSON over fetch), stop it (AbortController: the relay and the agent cancel the request on the GPU), errors in words.
// Or sign in (sign-in.ts) when the relay offers it: the access token replaces the key, and an empty tunnel id means
// "my tunnel" (/me/, the relay's route for the signed-in subject's tunnel).
// State lives in this page only (sessionStorage for the key, so a reload keeps it and closing the tab forgets it).

import { finishSignIn, signOut, signedInToken, startSignIn, tokenSubject, type SignInConfig } from "./sign-in.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const KEY = "c2l-chat";

interface Saved {
  tunnel: string;
  key: string;
}
interface Msg {
  role: "user" | "assistant";
  content: string;
}

let saved: Saved | null = null;
const history: Msg[] = [];
let running: AbortController | null = null;

function load(): Saved | null {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as Saved | null;
    return v && typeof v.tunnel === "string" && typeof v.key === "string" ? v : null;
  } catch {
    return null;
  }
}

let signIn: SignInConfig | null = null;

/** Where this tunnel's Ollama API is on this relay (same origin: no CORS needed); signed in without an id: /me. */
function apiUrl(path: string): string {
  return saved!.tunnel ? `/t/${encodeURIComponent(saved!.tunnel)}${path}` : `/me${path}`;
}

function headers(): HeadersInit {
  return { authorization: `Bearer ${signedInToken() ?? saved!.key}`, "content-type": "application/json" };
}

/** The account box and the key field as the sign-in state says: signed in, the token stands in for the key. */
function renderAccount(): void {
  const token = signedInToken();
  $("account").hidden = !signIn;
  $("sign-in").hidden = !!token;
  $("sign-out").hidden = !token;
  $("who").textContent = token ? `Signed in as ${tokenSubject(token)}` : "Sign in with your account, or paste a client key below.";
  $("key-label").hidden = !!token;
  $<HTMLInputElement>("client-key").required = !token;
  $<HTMLInputElement>("tunnel-id").required = !token;
}

function status(text: string): void {
  $("status").textContent = text;
}

function showError(text: string | null): void {
  const el = $("error");
  el.textContent = text ?? "";
  el.hidden = !text;
}

/** A refused answer in words: the message from the error JSON (Ollama or OpenAI shape), the status and the stable code. */
async function describe(res: Response): Promise<string> {
  let message = "";
  try {
    const j = (await res.json()) as { error?: string | { message?: string } };
    message = typeof j.error === "string" ? j.error : (j.error?.message ?? "");
  } catch {
    // not JSON (a proxy's HTML page): the status says enough
  }
  const code = res.headers.get("x-c2l-error-code");
  const what = res.status === 401 ? "The relay refused the key" : res.status === 429 ? "Too many requests" : res.status >= 500 ? "The tunnel could not answer" : "The request was refused";
  const retry = res.headers.get("retry-after");
  return `${what} (HTTP ${res.status}${code ? `, ${code}` : ""})${message ? `: ${message}` : ""}${retry ? ` — retry in ${retry} s` : ""}`;
}

function fail(e: unknown): string {
  return `Could not reach the relay: ${e instanceof Error ? e.message : String(e)}`;
}

async function connect(): Promise<void> {
  showError(null);
  status("Connecting…");
  let res: Response;
  try {
    res = await fetch(apiUrl("/api/tags"), { headers: headers() });
  } catch (e) {
    status("");
    return showError(fail(e));
  }
  if (!res.ok) {
    status("");
    $("chat").hidden = true;
    return showError(await describe(res));
  }
  const tags = (await res.json()) as { models?: { name: string }[] };
  const select = $<HTMLSelectElement>("model");
  select.replaceChildren(...(tags.models ?? []).map((m) => new Option(m.name, m.name)));
  $("chat").hidden = false;
  $("forget").hidden = false;
  const name = saved!.tunnel || "your tunnel";
  status(tags.models?.length ? `Connected to ${name}: ${tags.models.length} model(s)` : `Connected to ${name}, but it lists no models`);
}

function bubble(m: Msg): HTMLLIElement {
  const li = document.createElement("li");
  li.className = m.role;
  li.textContent = m.content;
  $("messages").append(li);
  return li;
}

function setRunning(on: boolean): void {
  $<HTMLButtonElement>("send").disabled = on;
  $<HTMLButtonElement>("stop").disabled = !on;
}

async function send(prompt: string): Promise<void> {
  showError(null);
  const user: Msg = { role: "user", content: prompt };
  history.push(user);
  bubble(user);
  const answer: Msg = { role: "assistant", content: "" };
  const li = bubble(answer);
  li.setAttribute("aria-busy", "true");
  running = new AbortController();
  setRunning(true);
  status("Sending… (waiting for the model)");
  try {
    const res = await fetch(apiUrl("/api/chat"), {
      method: "POST",
      headers: headers(),
      body: JSON.stringify({ model: $<HTMLSelectElement>("model").value, messages: history, stream: true }),
      signal: running.signal,
    });
    if (!res.ok || !res.body) {
      li.remove();
      history.pop();
      return showError(await describe(res));
    }
    // The daemon's broker names the place this request waited at in its queue (the head comes once it is served).
    const queued = res.headers.get("x-queue-position");
    const answering = queued ? `Answering… (waited in the queue at position ${queued})` : "Answering…";
    status(answering);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const chunk = JSON.parse(line) as { message?: { content?: string }; error?: string; done?: boolean };
        if (chunk.error) throw new Error(chunk.error);
        if (chunk.message?.content) {
          answer.content += chunk.message.content;
          li.textContent = answer.content;
        }
      }
    }
    history.push(answer);
    status("Done");
  } catch (e) {
    if (running?.signal.aborted) {
      status("Stopped");
      // Stopped before the first token (waiting in the queue, a model loading): no empty answer is left on screen.
      if (answer.content) history.push(answer);
      else li.remove();
    } else {
      showError(e instanceof TypeError ? fail(e) : `The answer broke off: ${e instanceof Error ? e.message : String(e)}`);
      status("");
    }
  } finally {
    li.removeAttribute("aria-busy");
    running = null;
    setRunning(false);
  }
}

async function start(): Promise<void> {
  try {
    signIn = ((await (await fetch("/chat/config.json")).json()) as { signIn: SignInConfig | null }).signIn;
  } catch {
    signIn = null;
  }
  const params = new URLSearchParams(location.search);
  if (signIn && (params.has("code") || params.has("error"))) {
    try {
      await finishSignIn(signIn, params);
    } catch (e) {
      showError(e instanceof Error ? e.message : String(e));
    }
  }
  renderAccount();
  $("sign-in").addEventListener("click", () => {
    showError(null);
    startSignIn(signIn!).catch((e: unknown) => showError(`Could not start signing in: ${e instanceof Error ? e.message : String(e)}`));
  });
  $("sign-out").addEventListener("click", () => {
    running?.abort();
    signOut();
    $("chat").hidden = true;
    renderAccount();
    status("Signed out");
  });
  saved = load();
  if (saved && (saved.key || signedInToken())) {
    $<HTMLInputElement>("tunnel-id").value = saved.tunnel;
    $<HTMLInputElement>("client-key").value = saved.key;
    void connect();
  }
  $("connect").addEventListener("submit", (ev) => {
    ev.preventDefault();
    saved = { tunnel: $<HTMLInputElement>("tunnel-id").value.trim(), key: $<HTMLInputElement>("client-key").value.trim() };
    sessionStorage.setItem(KEY, JSON.stringify(saved));
    void connect();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    saved = null;
    $<HTMLInputElement>("client-key").value = "";
    $("chat").hidden = true;
    $("forget").hidden = true;
    status("Key forgotten");
  });
  $("send-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const box = $<HTMLTextAreaElement>("prompt");
    const text = box.value.trim();
    if (!text || running) return;
    box.value = "";
    void send(text);
  });
  $("stop").addEventListener("click", () => running?.abort());
}

void start();

// The plans for Ollama's metadata routes (GET /api/version, POST /api/show): passed through to an upstream that serves
// Ollama's API; answered by the broker, from the kind's /v1/models listing (and its showRead), for one that does not.
import { dialectError, HttpError } from "../../../core/http-error.ts";
import { kindOf, servesNatively, type KindName, type ModelFacts } from "../../../kinds/index.ts";
import type { AnswerPlan, DialectAttempt, DialectPlan } from "../plan-types.ts";
import { JSON_TYPE } from "../translated-answer.ts";
import { WholeBody } from "../whole-body.ts";
import { ollamaErrorFrom } from "./from-chat-response.ts";
import { mergeFacts, showFromEntry } from "./show.ts";

/**
 * The version the broker says on /api/version when no upstream serves Ollama's API: the first Ollama release whose API
 * has every request field the translation reads (tool results named by tool_name, 0.9; a JSON schema as format, 0.5;
 * /api/embed, 0.3). A client that enables a feature by version sends what the translation maps, or fields it drops
 * (think) rather than refuses; an older number would make clients that require a recent Ollama refuse the connection.
 */
export const OLLAMA_API_VERSION = "0.9.0";

const PASS: AnswerPlan = { transform: null, contentType: null };
const native = (kind: KindName) => servesNatively(kind, "ollama");
const passThrough = (target: string, body: DialectAttempt["body"], bodyLength: number): DialectAttempt => ({ target, body, bodyLength, translated: false, answer: () => PASS });

/** GET /api/version: an Ollama-kind upstream's own answer; the broker's when none is enabled. */
export function versionPlan(): DialectPlan {
  return {
    dialect: "ollama",
    takes: native,
    attempt: (_kind, target, body, bodyLength) => passThrough(target, body, bodyLength),
    none: () => Response.json({ version: OLLAMA_API_VERSION }),
  };
}

/**
 * POST /api/show for `model` (as the upstream names it; `requested`: as the client did): as it is to an upstream that
 * serves Ollama's API, else a GET of the kind's model listing whose entry for the model becomes the show answer, with
 * what the kind's showRead (a GET beside it: llama.cpp's /props) tells when it answers; a model the listing lacks is
 * Ollama's 404 `model 'x' not found`.
 */
export function showPlan(model: string | null, requested: string | null): DialectPlan {
  const shown = requested ?? model ?? "";
  return {
    dialect: "ollama",
    takes: () => true,
    none: () => dialectError("/api/show", "no_upstream", "no upstream is enabled in the broker's configuration"),
    attempt(kind, target, body, bodyLength) {
      if (native(kind)) return passThrough(target, body, bodyLength);
      if (!model) throw new HttpError("bad_request", "model is required");
      const module = kindOf(kind);
      const showRead = module.showRead;
      return {
        method: "GET",
        target: module.listing.openai.path,
        body: null,
        bodyLength: 0,
        translated: true,
        ...(showRead ? { aside: showRead.target(model) } : {}),
        answer(status, _contentType, aside) {
          if (status >= 400) return { transform: new WholeBody((text) => ({ text: JSON.stringify(ollamaErrorFrom(status, text)), usage: null })), contentType: JSON_TYPE };
          // What the server says beside its listing; nothing when that read failed (the show is then the listing's alone).
          let told: ModelFacts = {};
          const before = showRead && aside ? aside.then((b) => (told = b === null ? {} : showRead.facts(b))).catch(() => (told = {})) : undefined;
          return {
            transform: new WholeBody((text) => {
              let list: { data?: unknown };
              try {
                list = JSON.parse(text) as { data?: unknown };
              } catch {
                throw new HttpError("upstream_error", `the upstream's model list is not JSON: ${text.slice(0, 200)}`);
              }
              const data = Array.isArray(list?.data) ? (list.data as Record<string, unknown>[]) : [];
              const entry = data.find((m) => m?.id === model);
              if (!entry) throw new HttpError("not_found", `model '${shown}' not found`);
              return { text: JSON.stringify(showFromEntry(entry, mergeFacts(module.modelFacts?.(entry) ?? {}, told))), usage: null };
            }),
            contentType: JSON_TYPE,
            ...(before ? { before } : {}),
          };
        },
      };
    },
  };
}

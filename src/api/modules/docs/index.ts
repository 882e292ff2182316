// Swagger UI at /swagger, loaded lazily a moment after start-up (it costs start-up time and is rarely opened); a load that fails is tried again, then /swagger says why.
import { Elysia } from "elysia";
import type { ApiDeps } from "../../deps.ts";
import type { openapi } from "./openapi.ts";
import { HttpError } from "../../../core/http-error.ts";
import { logger } from "../../../core/log.ts";
import { SECURITY_OF } from "../../security/policy.ts";

const log = logger("api");

/** Long enough for the first /healthz of a starting daemon to be answered before the OpenAPI code loads. */
const DOCS_DELAY_MS = 250;
/**
 * The waits before each new try of a load that failed (out of file descriptors, its modules could not be read): a
 * shortage passes, a lasting one is not tried forever. Bounded also because a GET that finds no route waits for the
 * docs meanwhile (lazy-front.ts: it may be theirs).
 */
const RETRY_DELAYS_MS: readonly number[] = [1000, 2000, 4000];

/** What /swagger answers (503 unavailable) once every try failed. */
export const DOCS_UNAVAILABLE = "the API docs could not be loaded (was the daemon out of file descriptors?); the daemon log has the cause, and a restart loads them";

export interface DocsLoading {
  /** The OpenAPI module's loader (tests: one that fails as an import does at the file limit). */
  load?: () => Promise<{ openapi: typeof openapi }>;
  delayMs?: number;
  retryDelaysMs?: readonly number[];
}

type Docs = ReturnType<typeof openapi>;

/**
 * /swagger and what is under it, once the docs could not be loaded: a 503 that says so, not a 404. Public, as the docs
 * are. Typed as the docs plugin: the app's type (the API client's) stays the one the docs give it.
 */
function docsUnavailable(): Docs {
  const refuse = () => {
    throw new HttpError("unavailable", DOCS_UNAVAILABLE);
  };
  return new Elysia({ name: "docs-unavailable" }).guard({ detail: { security: SECURITY_OF.public, hide: true } }).get("/swagger", refuse).get("/swagger/*", refuse) as unknown as Docs;
}

/**
 * Never rejects: Elysia writes a rejected plugin to stderr with console.error (a stack dump, not a log line), and
 * nothing would load the docs again. A failed load is one warn line, the last failed try one error line.
 */
async function loadDocs(deps: ApiDeps, o: DocsLoading): Promise<Docs> {
  await Bun.sleep(o.delayMs ?? DOCS_DELAY_MS);
  const load = o.load ?? (() => import("./openapi.ts"));
  const delays = o.retryDelaysMs ?? RETRY_DELAYS_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return (await load()).openapi(deps);
    } catch (e) {
      if (attempt >= delays.length) {
        log.error("the API docs could not be loaded; /swagger answers 503 until the daemon restarts", { error: e, tries: attempt + 1 });
        return docsUnavailable();
      }
      if (attempt === 0) log.warn("the API docs could not be loaded; trying again", { error: e });
      await Bun.sleep(delays[attempt]!);
    }
  }
}

export const docsModule = (deps: ApiDeps, o: DocsLoading = {}) => new Elysia({ name: "docs" }).use(loadDocs(deps, o));

// The docs plugin's lazy load at the file limit: a failed import is tried again, and once every try failed /swagger answers 503 saying why; never Elysia's console.error.
import { afterAll, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { HttpError } from "../../../core/http-error.ts";
import { logFormat, setLogFormat, setLogSink } from "../../../core/log.ts";
import type { ApiDeps } from "../../deps.ts";
import type { openapi } from "./openapi.ts";
import { docsModule, DOCS_UNAVAILABLE } from "./index.ts";

const lines: string[] = [];
const started = logFormat();
setLogSink((l) => void lines.push(l));
setLogFormat("journal");
afterAll(() => {
  setLogSink((l) => void process.stderr.write(l + "\n"));
  setLogFormat(started);
});

const AT_THE_LIMIT = 'EMFILE reading "/somewhere/src/api/modules/docs/openapi.ts"';
/** A stand-in for the OpenAPI module: /swagger answers "docs". */
const fakeDocs = { openapi: (() => new Elysia({ name: "openapi" }).get("/swagger", () => "docs")) as unknown as typeof openapi };

/** An app with the docs plugin and the API's answer for an HttpError; resolves once the plugin is in. */
async function appWith(load: () => Promise<{ openapi: typeof openapi }>) {
  const app = new Elysia()
    .onError(({ error }) => (error instanceof HttpError ? error.toResponse() : undefined))
    .use(docsModule({} as ApiDeps, { load, delayMs: 0, retryDelaysMs: [1, 1] }));
  await app.modules;
  return app;
}

test("a load that fails once (the file limit) is tried again: /swagger is served, and the log has one warn line", async () => {
  lines.length = 0;
  let loads = 0;
  const app = await appWith(async () => {
    if (++loads === 1) throw new Error(AT_THE_LIMIT);
    return fakeDocs;
  });
  const r = await app.handle(new Request("http://127.0.0.1/swagger"));
  // Before: the rejected plugin was never loaded again (/swagger a 404 until restart), and Elysia wrote it with console.error.
  expect({ status: r.status, body: await r.text(), loads }).toEqual({ status: 200, body: "docs", loads: 2 });
  expect(lines).toEqual([`<4>warn api: the API docs could not be loaded; trying again error="${AT_THE_LIMIT.replace(/"/g, '\\"')}"`]);
});

test("every try failed: /swagger and its files answer 503 unavailable saying why, one error line, nothing on console.error", async () => {
  lines.length = 0;
  const errors: unknown[] = [];
  const consoleError = console.error;
  console.error = (...a: unknown[]) => void errors.push(a);
  try {
    const app = await appWith(async () => {
      throw new Error(AT_THE_LIMIT);
    });
    for (const path of ["/swagger", "/swagger/json"]) {
      const r = await app.handle(new Request(`http://127.0.0.1${path}`));
      expect({ path, status: r.status, body: await r.json() }).toEqual({ path, status: 503, body: { error: { code: "unavailable", message: DOCS_UNAVAILABLE } } });
    }
  } finally {
    console.error = consoleError;
  }
  expect(errors).toEqual([]);
  expect(lines.map((l) => l.replace(/ error=.*/, ""))).toEqual(["<4>warn api: the API docs could not be loaded; trying again", "<3>error api: the API docs could not be loaded; /swagger answers 503 until the daemon restarts"]);
});

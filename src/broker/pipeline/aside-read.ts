// A GET sent to an attempt's upstream beside its request (Ollama's /api/show for llama.cpp also reads /props): its JSON
// body, or null for any failure, so the answer made from it never fails because of it.
import { TransformedReply } from "../dialects/transformed-reply.ts";
import { WholeBody } from "../dialects/whole-body.ts";
import { Attempt, type UpstreamClient, type UpstreamRequest } from "../upstream-client.ts";

/**
 * How long the read may take: the answer waits for it, and it is an extra that the answer does without. A server's
 * property read answers at once (llama.cpp makes /props from its settings, queued behind no generation); one that
 * does not is not waited for.
 */
export const ASIDE_LIMIT_MS = 2_000;

/**
 * GET `target` of the upstream `client` serves, with the request's headers (the upstream's credential added, the
 * client's dropped, as for the request itself: headers.ts). Ends (null) when the request's own signal aborts (the
 * client left, the first-byte deadline passed) or after `limitMs`; a status other than 2xx, a body that is not JSON or
 * is over BUFFER_LIMIT are null too.
 */
export function asideRead(client: UpstreamClient, target: string, req: UpstreamRequest, limitMs = ASIDE_LIMIT_MS): Promise<unknown> {
  const signal = new Attempt();
  // The deadline and the client's leaving end the read even where a client ignores the signal once the head has arrived.
  const expired = new Promise<null>((resolve) => signal.addEventListener("abort", () => resolve(null)));
  const stop = () => signal.abort();
  if (req.signal.aborted) return Promise.resolve(null);
  req.signal.addEventListener("abort", stop);
  const timer = setTimeout(stop, limitMs);
  const read = async (): Promise<unknown> => {
    const res = await client.send({ method: "GET", target, headers: req.headers, headerJson: req.headerJson ?? null, body: null, bodyLength: 0, signal });
    if (res.status < 200 || res.status >= 300) {
      res.cancel();
      return null;
    }
    // Read whole as a translated answer is, and held to the same cap (WholeBody: over it, it throws and the read is cancelled).
    let json: unknown = null;
    const whole = new WholeBody((text) => {
      json = JSON.parse(text);
      return { text: "", usage: null };
    });
    await new TransformedReply(res, { transform: whole, contentType: null }).bytes();
    return json;
  };
  return Promise.race([read(), expired])
    .catch(() => null)
    .finally(() => {
      clearTimeout(timer);
      req.signal.removeEventListener("abort", stop);
    });
}

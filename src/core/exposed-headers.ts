// The answer headers a page on another origin may read (Access-Control-Expose-Headers), the same from the relay and the broker.
import { ERROR_CODE_HEADER } from "./http-error.ts";

/**
 * Besides the safelisted headers: the stable error code, when to retry (and, x-should-retry, whether the OpenAI and
 * Anthropic SDKs should: a page's SDK that cannot read it waits out a Retry-After of hours), the queue place, timings,
 * and an upstream's request id as the OpenAI (`X-Request-Id`) and Anthropic (`Request-Id`) SDKs read it into an
 * error's `requestID` (a cloud upstream's, passed through: without it a page's error could not be traced there).
 */
export const EXPOSED_HEADERS = [ERROR_CODE_HEADER, "Retry-After", "X-Should-Retry", "X-Queue-Position", "Server-Timing", "X-Request-Id", "Request-Id"].join(", ");

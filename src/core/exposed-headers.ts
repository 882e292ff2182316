// The answer headers a page on another origin may read (Access-Control-Expose-Headers), the same from the relay and the broker.
import { ERROR_CODE_HEADER } from "./http-error.ts";

/**
 * Besides the safelisted headers: the stable error code, when to retry (and, x-should-retry, whether the OpenAI and
 * Anthropic SDKs should: a page's SDK that cannot read it waits out a Retry-After of hours), the queue place, timings.
 */
export const EXPOSED_HEADERS = [ERROR_CODE_HEADER, "Retry-After", "X-Should-Retry", "X-Queue-Position", "Server-Timing"].join(", ");

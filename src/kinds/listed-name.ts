// Which of the names an upstream gives (its models, its version) are taken: `status`, `models`, the dashboard and
// notifications show them, so one holding a control character (a terminal escape sequence, a line break), a
// bidirectional override, or of absurd length (megabytes) is dropped rather than shown or routed to; no model server
// names a model (or a version) so.
export const MAX_MODEL_NAME = 1024;
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

export function listedName(n: unknown): n is string {
  return typeof n === "string" && n.length > 0 && n.length <= MAX_MODEL_NAME && !UNPRINTABLE.test(n);
}

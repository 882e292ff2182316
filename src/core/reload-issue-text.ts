// The one-line text of a rejected reload's problem, as `status` and its warnings show it: the field, then what is wrong.
import type { ReloadResult } from "./contracts.ts";

type ReloadIssue = NonNullable<ReloadResult["error"]>;

/** "api.body_limit: 10 is below the minimum 1024": the message alone ("10 is below …") does not say which setting. */
export function reloadIssueText(issue: ReloadIssue): string {
  const { path, message } = issue;
  return path && !message.startsWith(`${path}:`) ? `${path}: ${message}` : message;
}

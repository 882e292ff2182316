// One line of doctor's checklist: what was checked, how it went, and the fix when it did not (shared by the check files).
export type CheckLevel = "ok" | "warn" | "fail";
export interface CheckResult {
  name: string;
  level: CheckLevel;
  detail: string;
  fix?: string;
}

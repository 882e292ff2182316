// Resume marks: counted by the held answer, read by reference from the record, and a record made before a resume hears of it.
import { expect, test } from "bun:test";
import { followResumes, noteResumed, resumeMarkFor, resumeMarkOf } from "./resume-marks.ts";

test("a mark is made once per signal, counts resumes and replayed bytes, and tells its follower of each later resume", () => {
  const signal = new AbortController().signal;
  expect(resumeMarkOf(signal)).toBeUndefined();
  const mark = resumeMarkFor(signal);
  expect(resumeMarkFor(signal)).toBe(mark);
  noteResumed(mark, 10);
  const heard: { count: number; replayedBytes: number }[] = [];
  followResumes(mark, () => heard.push({ ...mark }));
  noteResumed(mark, 5);
  expect(resumeMarkOf(signal)).toEqual({ count: 2, replayedBytes: 15 });
  expect(heard).toEqual([{ count: 2, replayedBytes: 15 }]);
});

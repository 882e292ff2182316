// Unit tests for the text of a rejected reload's problem: the field before the message, never twice.
import { expect, test } from "bun:test";
import { reloadIssueText } from "./reload-issue-text.ts";

test("a rejected reload's problem names its field, once, and a problem of no field is its message", () => {
  expect(reloadIssueText({ message: "10 is below the minimum 1024", path: "api.body_limit" })).toBe("api.body_limit: 10 is below the minimum 1024");
  expect(reloadIssueText({ message: 'upstreams[2].url: "x" is not a URL', path: "upstreams[2].url" })).toBe('upstreams[2].url: "x" is not a URL');
  expect(reloadIssueText({ message: "[tunnel] is defined twice", path: "" })).toBe("[tunnel] is defined twice");
});

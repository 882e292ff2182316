// OpenAI finish reasons as Anthropic stop reasons.
import { expect, test } from "bun:test";
import { stopReason } from "./stop-reason.ts";

test("finish reasons map to Anthropic's stop reasons; a stop string the server names and the client asked for is a stop sequence", () => {
  expect(stopReason("stop", null, [])).toEqual({ stop_reason: "end_turn", stop_sequence: null });
  expect(stopReason("length", null, [])).toEqual({ stop_reason: "max_tokens", stop_sequence: null });
  expect(stopReason("tool_calls", null, [])).toEqual({ stop_reason: "tool_use", stop_sequence: null });
  expect(stopReason("content_filter", null, [])).toEqual({ stop_reason: "refusal", stop_sequence: null });
  expect(stopReason("stop", "END", ["END"])).toEqual({ stop_reason: "stop_sequence", stop_sequence: "END" });
  // vLLM names an EOS token id there: not a stop sequence.
  expect(stopReason("stop", 128009, ["END"])).toEqual({ stop_reason: "end_turn", stop_sequence: null });
  expect(stopReason(null, null, [])).toEqual({ stop_reason: "end_turn", stop_sequence: null });
});

// Which errors are a descriptor shortage: Node's fs codes, and Bun's loader's words for a module it could not read.
import { expect, test } from "bun:test";
import { descriptorShortage, outOfDescriptors } from "./fd-exhaustion.ts";

test("EMFILE and ENFILE by their code or in Bun's loader's message; nothing else", () => {
  expect(outOfDescriptors(Object.assign(new Error("EMFILE: too many open files, open '/x/tunnel.toml'"), { code: "EMFILE" }))).toBe("EMFILE");
  expect(outOfDescriptors(Object.assign(new Error("ENFILE: file table overflow"), { code: "ENFILE" }))).toBe("ENFILE");
  expect(outOfDescriptors(new Error('EMFILE reading "/work/src/dashboard/assets.ts"'))).toBe("EMFILE");
  expect(outOfDescriptors(Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" }))).toBeNull();
  expect(outOfDescriptors(new Error("a name with EMFILEX in it"))).toBeNull();
  expect(outOfDescriptors("EMFILE")).toBeNull();
  expect(descriptorShortage("EMFILE")).toContain("ulimit -n");
});

// The profile reader ranks by samples, not by Bun's self time (which charges idle gaps to the last function sampled).
import { expect, test } from "bun:test";
import { topBySamples } from "./profile-md.ts";

const PROFILE = `# CPU Profile

## Function Details

### \`(module)\`
\`/repo/node_modules/zod/v3/types.js:478\` | Self: 40.0% (271.1ms) | Total: 40.0% (271.1ms) | Samples: 1

### \`write\`
\`[native code]\` | Self: 30.0% (203.1ms) | Total: 30.0% (203.1ms) | Samples: 575

### \`parseHead\`
\`/repo/src/broker/http1-parser.ts:228\` | Self: 1.5% (9.2ms) | Total: 1.6% (10.2ms) | Samples: 91
`;

test("functions are ranked by samples, with their share and paths relative to the repo", () => {
  const md = topBySamples(PROFILE, "/repo", 2);
  const rows = md.split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| samples"));
  expect(md.split("\n")[0]).toBe("667 samples (1 ms).");
  expect(rows).toEqual(["| 575 | 86.2% | 30.0% | `write` | `[native code]` |", "| 91 | 13.6% | 1.6% | `parseHead` | `src/broker/http1-parser.ts:228` |"]);
});

test("a profile without function details is an error, not an empty table", () => {
  expect(() => topBySamples("# CPU Profile\n", "/repo")).toThrow("no function details");
});

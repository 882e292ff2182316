// Which Redis replies count as refusing the cluster's writes (the node degrades) and which are ours to report.
import { expect, test } from "bun:test";
import { writeRefusal } from "./write-refusal.ts";

test("Redis refusing writes is named with its cause; other errors are not refusals", () => {
  expect(writeRefusal(new Error("OOM command not allowed when used memory > 'maxmemory'. script: 21af, on @user_script:1."))).toMatch(/^Redis is out of memory .*: OOM command not allowed/);
  expect(writeRefusal(new Error("NOREPLICAS Not enough good replicas to write."))).toMatch(/fewer replicas than min-replicas-to-write/);
  expect(writeRefusal(new Error("READONLY You can't write against a read only replica."))).toMatch(/read-only replica/);
  expect(writeRefusal(new Error("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk."))).toMatch(/cannot persist/);
  expect(writeRefusal(new Error("NOPERM this user has no permissions to run the 'eval' command"))).toMatch(/ACL user lacks/);
  // The same refusal met inside a script (a lease renewal) carries no NOPERM code (Redis 7.0).
  expect(writeRefusal(new Error("ERR The user executing the script can't run this command or subcommand script: aea2e854, on @user_script:11."))).toMatch(/ACL user lacks .*: ERR The user executing the script/);
  expect(writeRefusal(new Error("ERR Error running script (call to f_1): @user_script:3: wrong number of args"))).toBeNull();
  expect(writeRefusal(new Error("WRONGTYPE Operation against a key holding the wrong kind of value"))).toBeNull();
  expect(writeRefusal("x".repeat(10))).toBeNull();
});

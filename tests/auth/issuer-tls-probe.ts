// Run by issuer-tls.test.ts in a process of its own (its environment is the point): discovers the issuer named in argv and prints "discovered" or the error.
import { discover } from "../../src/auth/oidc.ts";
import { defaultConfig } from "../../src/config/load.ts";

const auth = { ...defaultConfig().auth, issuer: process.argv[2]!, client_id: "c2l-test" };
try {
  await discover(auth);
  console.log("discovered");
} catch (e) {
  console.log(`refused: ${(e as Error).message}`);
}

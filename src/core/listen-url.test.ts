// The listen address → URL rule shared by the CLI, doctor and the tray.
import { expect, test } from "bun:test";
import { baseUrlOf } from "./listen-url.ts";

test("base URL from the listen address (wildcards reached through loopback, IPv6 in brackets)", () => {
  expect(baseUrlOf("127.0.0.1:8765")).toBe("http://127.0.0.1:8765");
  expect(baseUrlOf("[::1]:9000")).toBe("http://[::1]:9000");
  expect(baseUrlOf("0.0.0.0:8765")).toBe("http://127.0.0.1:8765");
  expect(baseUrlOf("[::]:8765")).toBe("http://[::1]:8765");
  expect(baseUrlOf("localhost:1")).toBe("http://localhost:1");
});

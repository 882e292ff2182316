// The DH session codec: both sides derive the same key; AES-CBC with PKCS#7 round-trips and pads to 16 bytes.
import { expect, test } from "bun:test";
import { DhKeyExchange, decryptSecret, encryptSecret } from "./dh-session.ts";

test("two parties derive the same 16-byte key and a secret round-trips", () => {
  const a = new DhKeyExchange();
  const b = new DhKeyExchange();
  expect(a.publicKey.length).toBeLessThanOrEqual(128);
  const ka = a.deriveKey(b.publicKey);
  const kb = b.deriveKey(a.publicKey);
  expect(ka.length).toBe(16);
  expect(ka.equals(kb)).toBe(true);
  const { iv, value } = encryptSecret(ka, Buffer.from("hunter2-secret"));
  expect(iv.length).toBe(16);
  expect(value.length).toBe(16); // 14 bytes + 2 bytes of PKCS#7 padding
  expect(decryptSecret(kb, iv, value).toString()).toBe("hunter2-secret");
  expect(encryptSecret(ka, Buffer.alloc(16)).value.length).toBe(32); // a full block of padding
});

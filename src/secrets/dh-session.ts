// The Secret Service's encrypted transfer: dh-ietf1024-sha256-aes128-cbc-pkcs7 (DH on the RFC 2409 group 2, HKDF-SHA256, AES-128-CBC).
import { createCipheriv, createDecipheriv, createDiffieHellman, hkdfSync, randomBytes, type DiffieHellman } from "node:crypto";

export const DH_ALGORITHM = "dh-ietf1024-sha256-aes128-cbc-pkcs7";

// The 1024-bit MODP group (RFC 2409 section 6.2, "Oakley group 2"); Bun does not ship the named group.
const GROUP2_PRIME = Buffer.from(
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
  "hex",
);

export class DhKeyExchange {
  private readonly dh: DiffieHellman;
  readonly publicKey: Buffer;

  constructor() {
    this.dh = createDiffieHellman(GROUP2_PRIME, Buffer.from([2]));
    this.publicKey = this.dh.generateKeys();
  }

  /** The AES-128 key both sides derive from the service's public key. */
  deriveKey(servicePublicKey: Uint8Array): Buffer {
    const shared = this.dh.computeSecret(Buffer.from(servicePublicKey));
    // libsecret and gnome-keyring use the shared secret as a full-width big-endian number (leading zeros kept).
    const ikm = Buffer.alloc(GROUP2_PRIME.length);
    shared.copy(ikm, ikm.length - shared.length);
    return Buffer.from(hkdfSync("sha256", ikm, Buffer.alloc(0), Buffer.alloc(0), 16));
  }
}

export function encryptSecret(key: Buffer, plaintext: Buffer): { iv: Buffer; value: Buffer } {
  const iv = randomBytes(16);
  const c = createCipheriv("aes-128-cbc", key, iv);
  return { iv, value: Buffer.concat([c.update(plaintext), c.final()]) };
}

export function decryptSecret(key: Buffer, iv: Uint8Array, value: Uint8Array): Buffer {
  const d = createDecipheriv("aes-128-cbc", key, Buffer.from(iv));
  return Buffer.concat([d.update(Buffer.from(value)), d.final()]);
}

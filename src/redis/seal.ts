import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface DataKey {
  id: string;
  key: Buffer;
}

/**
 * Encrypts what the service keeps in Redis (cached profile data, answers, queued records) with
 * AES-256-GCM. A sealed value is `<keyId>.<iv>.<ciphertext+tag>`; the first key seals, every key
 * opens, so keys rotate by putting a new one first and dropping the old one once entries sealed
 * with it have expired. The Redis key name is the additional authenticated data: a value copied
 * under another key does not open.
 */
// 96-bit GCM nonces, drawn from a pool of random bytes refilled 4 KB at a time rather than one
// system call per value (the nonces stay random and unique; only the draw is batched).
const POOL = 4096;
let pool = randomBytes(POOL);
let offset = 0;
function nonce(): Buffer {
  if (offset + 12 > POOL) {
    pool = randomBytes(POOL);
    offset = 0;
  }
  offset += 12;
  return pool.subarray(offset - 12, offset);
}

export class Sealer {
  private readonly byId: Map<string, Buffer>;
  private readonly current: DataKey;

  constructor(keys: readonly DataKey[]) {
    if (keys.length === 0) throw new Error('at least one data key');
    this.current = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  seal(value: unknown, aad: string): string {
    const iv = nonce();
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${this.current.id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** undefined when the key id is unknown or the value does not authenticate (tampered, moved, corrupt) */
  open<T>(sealed: string, aad: string): T | undefined {
    const [id, ivText, bodyText, extra] = sealed.split('.');
    const key = id ? this.byId.get(id) : undefined;
    if (!key || !ivText || !bodyText || extra !== undefined) return undefined;
    try {
      const body = Buffer.from(bodyText, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivText, 'base64url'));
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(body.subarray(body.length - 16));
      const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }
}

import { createHash, createHmac } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Identity } from '../domain/identity.js';
import type { AttributeMapping } from '../domain/mapping.js';

/**
 * Every Redis key the service writes. Keys start with `<prefix>:<domain>:` so several domains (or
 * environments) can share one Redis. The `{...}` hash tag puts all keys of one caller identity in one
 * cluster slot, so the cache entry, the creation lock and the per-contact answers of a caller can be
 * used together in one script on Redis Cluster. Identities never appear in clear: the tag is a keyed
 * HMAC of the normalised identity.
 */
export class StateKeys {
  private readonly base: string;
  private readonly cacheVersion: string;
  private readonly tags = new LRUCache<string, string>({ max: 20_000 });

  constructor(
    prefix: string,
    domain: string,
    private readonly secret: string,
    mapping: AttributeMapping,
  ) {
    this.base = `${prefix}:${domain}`;
    // A change of the attribute mapping changes what a cached summary holds: such entries are not reused.
    this.cacheVersion = createHash('sha256')
      .update(JSON.stringify(mapping.map((m) => [m.key, m.source])))
      .digest('base64url')
      .slice(0, 8);
  }

  /** The caller's hash tag: HMAC-SHA256 of the normalised identity, 128 bits in base64url. */
  identityTag(identity: Identity): string {
    const value = identity.type === 'PHONE' ? `p:${identity.e164}` : `e:${identity.address}`;
    let tag = this.tags.get(value);
    if (tag === undefined) {
      tag = createHmac('sha256', this.secret).update(value).digest('base64url').slice(0, 22);
      this.tags.set(value, tag);
    }
    return tag;
  }

  profileCache(tag: string): string {
    return `${this.base}:{${tag}}:profile:${this.cacheVersion}`;
  }
  createLock(tag: string): string {
    return `${this.base}:{${tag}}:lock`;
  }
  createAttempt(tag: string): string {
    return `${this.base}:{${tag}}:attempt`;
  }
  contactAnswer(tag: string, contactId: string): string {
    return `${this.base}:{${tag}}:contact:${contactId}`;
  }
  /** SCAN pattern of every key of one caller (erasure) */
  callerKeys(tag: string): string {
    return `${this.base}:{${tag}}:*`;
  }
  recentContacts(profileId: string): string {
    return `${this.base}:{p:${profileId}}:recent`;
  }
}

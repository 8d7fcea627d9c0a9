import { createHash, createHmac } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Identity } from '../domain/identity.js';
import type { AttributeMapping } from '../domain/mapping.js';
import { canonicalKeys, identityKey as identityKeyName, type CallerKeys } from '../domain/keys.js';

/** Where one contact's lookup lives: the caller's hash tag, and which of the caller's lookups (keys and mode). */
export interface LookupKey {
  tag: string;
  /** '' for the identity alone; else a keyed hash of the other keys and the mode */
  variant: string;
}

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

  /** `namespace`: Config.keyNamespace, `<prefix>:<domain>` */
  constructor(
    namespace: string,
    private readonly secret: string,
    mapping: AttributeMapping,
  ) {
    this.base = namespace;
    // A change of the attribute mapping changes what a cached summary holds: such entries are not reused.
    this.cacheVersion = createHash('sha256')
      .update(JSON.stringify(mapping.map((m) => [m.key, m.source, m.call ?? null])))
      .digest('base64url')
      .slice(0, 8);
  }

  /** The caller's hash tag: HMAC-SHA256 of the normalised identity, 128 bits in base64url. */
  identityTag(identity: Identity): string {
    return this.digest(identity.type === 'PHONE' ? `p:${identity.e164}` : `e:${identity.address}`);
  }

  /**
   * The caller's tag and the lookup's variant. The tag comes from the phone number or e-mail address
   * when there is one, so every lookup of that caller (whatever else the flow asked with) shares its
   * slot and is found by an erasure; a contact without one is tagged by its first other key. What
   * else decides the answer (the other keys, `any` or `all`) makes the variant.
   */
  lookupKey(keys: CallerKeys): LookupKey {
    const [first] = keys.extra;
    const tag = keys.identity ? this.identityTag(keys.identity) : this.digest(`k:${first!.name}:${first!.values.join('\u0000')}`);
    const others = keys.identity ? keys.extra : keys.extra.slice(1);
    return { tag, variant: others.length === 0 ? '' : this.digest(canonicalKeys(others, keys.mode)).slice(0, 16) };
  }

  /**
   * The keyed hash of one of the contact's keys' value, as a duplicate set records the key its profiles share:
   * the phone number's or e-mail address's is the caller's tag, another key's the tag a caller found by it
   * alone has (see lookupKey), so an erasure of either finds the sets it is in.
   */
  keyDigest(keys: CallerKeys, name: string): string {
    if (keys.identity && identityKeyName(keys.identity) === name) return this.identityTag(keys.identity);
    const key = keys.extra.find((k) => k.name === name);
    return this.digest(`k:${name}:${(key?.values ?? []).join('\u0000')}`);
  }

  /** The digest of the last update a contact asked for: a Connect retry of the same one is not queued again. */
  lastUpdate(tag: string, contactId: string): string {
    return `${this.base}:{${tag}}:update:${contactId}`;
  }

  /** A keyed digest of any value (no value can be guessed back from it without IDENTITY_HASH_SECRET), 128 bits in base64url. */
  digest(value: string): string {
    let tag = this.tags.get(value);
    if (tag === undefined) {
      tag = createHmac('sha256', this.secret).update(value).digest('base64url').slice(0, 22);
      this.tags.set(value, tag);
    }
    return tag;
  }

  /** A keyed digest of a value met once (digest() remembers its values; this does not), 128 bits in base64url. */
  digestOnce(value: string): string {
    return createHmac('sha256', this.secret).update(value).digest('base64url').slice(0, 22);
  }

  profileCache(tag: string, variant = ''): string {
    return `${this.base}:{${tag}}:profile:${this.cacheVersion}${variant === '' ? '' : `:${variant}`}`;
  }
  /**
   * The clear head of a cached lookup (see contact-hit.ts): what a cache hit's script decides by, nothing
   * personal; written beside the lookup on a single Redis only.
   */
  lookupHead(tag: string, variant = ''): string {
    return `${this.base}:{${tag}}:head:${this.cacheVersion}${variant === '' ? '' : `:${variant}`}`;
  }
  createLock(tag: string): string {
    return `${this.base}:{${tag}}:lock`;
  }
  createAttempt(tag: string): string {
    return `${this.base}:{${tag}}:attempt`;
  }
  /** The answer given to a contact for one lookup variant: a second call in the same contact with other keys is another answer. */
  contactAnswer(tag: string, contactId: string, variant = ''): string {
    return `${this.base}:{${tag}}:contact:${contactId}${variant === '' ? '' : `:${variant}`}`;
  }
  /** SCAN pattern of every key of one caller (erasure) */
  callerKeys(tag: string): string {
    return `${this.base}:{${tag}}:*`;
  }
  /** the fleet's book of one operation's calls (cache/quota.ts); all operations share one slot */
  quota(operation: string): string {
    return quotaKey(this.base, operation);
  }
  /** the cached lookups (caller tag and variant) that answer one profile, for its updates */
  profileLookups(profileId: string): string {
    return `${this.base}:{p:${profileId}}:lookups`;
  }
  /** a keyed digest of the profile as the event stream last showed it (stream/apply.ts): an event that changes nothing drops nothing */
  profileSeen(profileId: string): string {
    return `${this.base}:{p:${profileId}}:seen`;
  }
  /** the profile's updates queued and not yet written (see PendingUpdates) */
  pendingUpdates(profileId: string): string {
    return `${this.base}:{p:${profileId}}:pending`;
  }
  /** an ID&V subject's failed checks in the window (cache/attempts.ts): its own hash tag */
  attemptFailures(kind: string, id: string): string {
    return `${this.base}:{v:${kind}:${id}}:fails`;
  }
  /** until when an ID&V subject is locked */
  attemptLock(kind: string, id: string): string {
    return `${this.base}:{v:${kind}:${id}}:lock`;
  }
  /** a contact's resolution, for its later legs (see ContactLegs): the ContactId is its own hash tag */
  contactLeg(contactId: string): string {
    return `${this.base}:{c:${contactId}}:leg`;
  }
  recentContacts(profileId: string): string {
    return `${this.base}:{p:${profileId}}:recent`;
  }
  /**
   * Where the duplicate sets live (cache/duplicates.ts): `<this>:sets`, `<this>:seen` and `<this>:set:<id>`,
   * all in one hash tag so one script updates them together, on a cluster too.
   */
  duplicates(): string {
    return `${this.base}:{dups}`;
  }
}

/** A lookup in a profile's index: the caller's tag and the lookup's variant (base64url: neither holds a space). */
export function lookupMember(tag: string, variant = ''): string {
  return `${tag} ${variant}`;
}

/** The key of an operation's line in the fleet's quota book (the record thread builds it without StateKeys). */
export function quotaKey(namespace: string, operation: string): string {
  return `${namespace}:{quota}:${operation}`;
}

// What an event of the profile stream does to the cache: a profile that changed (or was merged, or deleted) is no
// longer answered from lookups cached before the change. Applying an event only ever drops cached lookups, and only
// those made before it was applied: applying it twice, or an older one after a newer, costs a cache miss, never a
// wrong answer (the next lookup searches Customer Profiles, pending updates laid over it as always).
import type { CountryCode } from 'libphonenumber-js/max';
import type { StateKeys } from '../cache/keys.js';
import type { ProfileCache } from '../cache/profile-cache.js';
import { normaliseEmail, normalisePhone } from '../domain/identity.js';
import { EMAIL_FIELDS, PHONE_FIELDS, type Profile } from '../domain/profile.js';
import type { ProfileEvent } from './event.js';
import type { StreamStore } from './store.js';

/**
 * applied: lookups were dropped (or would have been); unchanged: the profile is as the last event showed it, nothing
 * to drop; ignored: not about a profile of this domain (an object's record: a change of its profile has its own).
 */
export type EventOutcome = 'applied' | 'unchanged' | 'ignored';

export interface ApplierDeps {
  cache: Pick<ProfileCache, 'dropProfile' | 'dropLookup'>;
  keys: StateKeys;
  store: Pick<StreamStore, 'lastSeen' | 'seen'>;
  /** the domain this service answers for: another domain's records are ignored */
  domain: string;
  /** how a profile's stored numbers are read (as the service reads callers') */
  defaultCountry: CountryCode;
  /**
   * The longest a lookup can be under way (the resolve deadline). A lookup that read the profile before the change
   * and is cached after the first drop is dropped by a second pass this much later.
   */
  settleMs: number;
  now?: () => number;
}

// after `settleMs`, a margin for the cache write a finished lookup sends without waiting
const SETTLE_MARGIN_MS = 1000;

export class ProfileEventApplier {
  private readonly now: () => number;
  /**
   * second passes due: `p:<profileId>` or `c:<caller tag>` -> drop what was cached before `before`, at `dueAt`
   * (a caller's lookup unless it answers `except`)
   */
  private readonly pending = new Map<string, { before: number; dueAt: number; except?: string | undefined }>();

  constructor(private readonly deps: ApplierDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Rejects when the cache or the store cannot be reached: nothing is skipped, the caller applies the event again. */
  async apply(event: ProfileEvent): Promise<EventOutcome> {
    if (event.domain !== this.deps.domain || !event.aboutProfile || !event.profileId) return 'ignored';
    const now = this.now();
    switch (event.type) {
      case 'CREATED':
        return this.created(event.profileId, event.profile, now);
      case 'UPDATED':
        return this.changed(event.profileId, event.profile, now, false);
      case 'MERGED':
        // the profiles merged away are gone (their keys now find the one kept); the one kept changed, and whoever
        // matched both (a MULTIPLE) now matches one
        for (const id of event.mergedAway) await this.dropProfile(id, now);
        return this.changed(event.profileId, event.profile, now, true);
      default:
        // DELETED, and any type this version does not know: dropping is always safe
        await this.dropProfile(event.profileId, now);
        return 'applied';
    }
  }

  /** Runs the second passes that are due (by `now`); those that fail stay due. Call it often (the reader does, every tick). */
  async settle(now = this.now()): Promise<void> {
    for (const [key, { before, dueAt, except }] of this.pending) {
      if (dueAt > now) continue;
      const id = key.slice(2);
      await (key.startsWith('p:') ? this.deps.cache.dropProfile(id, before) : this.deps.cache.dropLookup(id, before, except));
      if (this.pending.get(key)?.dueAt === dueAt) this.pending.delete(key);
    }
  }

  /**
   * A replica stopping (SIGTERM: a rolling deploy, a scale-in) runs the second passes still waiting, each once it is
   * due: at most `settleMs` + a second from now. Left undone, a lookup of another replica that read the profile before
   * its change and was cached after the first drop would answer until CACHE_TTL_SECONDS. (A replica killed outright
   * loses them: they are kept in its memory only.) A pass that fails is left, as in settle().
   */
  async finish(sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms))): Promise<void> {
    if (this.pending.size === 0) return;
    const lastDue = Math.max(...[...this.pending.values()].map((p) => p.dueAt));
    const wait = Math.min(lastDue - this.now(), this.deps.settleMs + SETTLE_MARGIN_MS);
    if (wait > 0) await sleep(wait);
    await this.settle(Infinity);
  }

  /** Second passes waiting (for /readyz and tests). */
  get settling(): number {
    return this.pending.size;
  }

  /**
   * A new profile: whatever is cached of it was read after it was made (a lookup that found it, the creation of this
   * service's own: a new caller's next contact stays a cache hit), and a change after that has its own record. Only
   * the lookups by its phone numbers and e-mail addresses alone that answer something else go (a caller cached as
   * "no profile", or as another's, finds this one now).
   */
  private async created(profileId: string, profile: Profile | undefined, now: number): Promise<EventOutcome> {
    await this.dropCallers(profile, now, profileId);
    if (profile) await this.deps.store.seen(profileId, this.deps.keys.digestOnce(stableJson(profile)));
    return 'applied';
  }

  /**
   * The profile changed: unless the event shows it as the last one did (a record that changes nothing the cache holds
   * drops nothing), its lookups go, and so do the lookups by its phone numbers and e-mail addresses alone (a caller
   * cached as "no profile", or as another profile's, may find this one now). The digest is kept only once the
   * lookups are dropped: a replica that dies in between leaves the event to be applied again.
   */
  private async changed(profileId: string, profile: Profile | undefined, now: number, force: boolean): Promise<EventOutcome> {
    const digest = profile ? this.deps.keys.digestOnce(stableJson(profile)) : undefined;
    if (!force && digest !== undefined && (await this.deps.store.lastSeen(profileId)) === digest) return 'unchanged';
    await this.dropProfile(profileId, now);
    await this.dropCallers(profile, now);
    if (digest !== undefined) await this.deps.store.seen(profileId, digest);
    return 'applied';
  }

  /** The lookups by the profile's phone numbers and e-mail addresses alone (unless they answer `except`). */
  private async dropCallers(profile: Profile | undefined, now: number, except?: string): Promise<void> {
    for (const tag of profile ? this.identityTags(profile) : []) {
      await this.deps.cache.dropLookup(tag, now, except);
      this.later(`c:${tag}`, now, except);
    }
  }

  private async dropProfile(profileId: string, now: number): Promise<void> {
    await this.deps.cache.dropProfile(profileId, now);
    this.later(`p:${profileId}`, now);
  }

  private later(key: string, now: number, except?: string): void {
    this.pending.set(key, { before: now + this.deps.settleMs, dueAt: now + this.deps.settleMs + SETTLE_MARGIN_MS, except });
  }

  /** The caller tags of the profile's phone numbers and e-mail addresses, normalised as callers' are. */
  private identityTags(profile: Profile): string[] {
    const tags = new Set<string>();
    for (const f of PHONE_FIELDS) {
      const id = normalisePhone(profile[f], this.deps.defaultCountry);
      if (id) tags.add(this.deps.keys.identityTag(id));
    }
    for (const f of EMAIL_FIELDS) {
      const id = normaliseEmail(profile[f]);
      if (id) tags.add(this.deps.keys.identityTag(id));
    }
    return [...tags];
  }
}

/** JSON with every object's keys in order: the same profile always has the same digest. */
function stableJson(value: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]))
        : v;
  return JSON.stringify(sorted(value));
}

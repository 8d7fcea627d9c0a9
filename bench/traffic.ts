// What the benchmark sends (Connect events, one unique ContactId each, from callers it invents) and how it
// steers the HTTP fake of AWS.
import { randomBytes, randomUUID } from 'node:crypto';
import { isValidPhoneNumber } from 'libphonenumber-js/max';
import { loadFixture } from '../test/support/fixtures.js';

/** Distinct valid US numbers (E.164), never the same twice in a run. */
export class Callers {
  private static readonly AREAS = ['206', '212', '303', '312', '415', '425', '503', '512', '617', '702', '713', '718', '801', '917'];
  private cursor = 0;

  next(): string {
    for (;;) {
      const c = this.cursor++;
      const line = String(c % 10_000).padStart(4, '0');
      const exchange = 200 + (Math.floor(c / 10_000) % 800);
      const area = Callers.AREAS[Math.floor(c / 8_000_000) % Callers.AREAS.length] ?? '425';
      if (exchange % 100 === 11 || exchange === 555) continue;
      const n = `+1${area}${exchange}${line}`;
      if (isValidPhoneNumber(n)) return n;
    }
  }

  take(count: number): string[] {
    return Array.from({ length: count }, () => this.next());
  }
}

/** The body of a Connect Lambda event (the sample event examples/events/voice-e164.json) from `phone` as a new contact. */
export class Events {
  private readonly pieces: string[];

  constructor(fixture = 'voice-e164.json') {
    const e = loadFixture(fixture) as { Details: { ContactData: Record<string, unknown> } };
    const data = e.Details.ContactData;
    // placeholders, filled by string concatenation per request (the load generator shares the 2 cores)
    data.ContactId = '@CONTACT@';
    data.InitialContactId = '@CONTACT@';
    data.PreviousContactId = '@CONTACT@';
    data.CustomerEndpoint = { ...(data.CustomerEndpoint as Record<string, unknown>), Address: '@PHONE@' };
    this.pieces = JSON.stringify(e).split(/("@CONTACT@"|"@PHONE@")/);
  }

  body(phone: string, contactId: string = randomUUID()): string {
    const id = JSON.stringify(contactId);
    const number = JSON.stringify(phone);
    let out = '';
    for (const p of this.pieces) out += p === '"@CONTACT@"' ? id : p === '"@PHONE@"' ? number : p;
    return out;
  }
}

/** A known caller's profile as Customer Profiles would hold it. */
export function profileOf(phone: string, i: number): Record<string, unknown> {
  return {
    PhoneNumber: phone,
    FirstName: `Bench${i}`,
    LastName: 'Caller',
    AccountNumber: `B-${100000 + i}`,
    PartyTypeString: 'INDIVIDUAL',
    Address: { City: 'Seattle' },
    Attributes: { tier: 'gold' },
  };
}

export interface FakeCalls {
  total: number;
  byOperation: Record<string, number>;
  byStatus: Record<string, number>;
}

/** The control API of test/support/fake-aws-server.ts. */
export class FakeControl {
  constructor(readonly url: string) {}

  private async post(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${this.url}/__fake/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`fake ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  async calls(): Promise<FakeCalls> {
    const res = await fetch(`${this.url}/__fake/calls`);
    return (await res.json()) as FakeCalls;
  }

  async latency(ms: number | Record<string, number>): Promise<void> {
    await this.post('latency', { ms });
  }

  async hang(on: boolean): Promise<void> {
    await this.post('hang', { on });
  }

  async reset(): Promise<void> {
    await this.post('reset', {});
  }

  /** the account quota, calls a second per operation (0: off) */
  async quota(q: { accountQuotaPerSecond?: number; connectQuotaPerSecond?: number }): Promise<void> {
    await this.post('quota', q);
  }

  /** calls sent and refused per second (epoch seconds) and operation */
  async quotaStats(): Promise<Array<{ second: number; operations: Record<string, { sent: number; refused: number; windowMax: number }> }>> {
    return ((await this.get('quota-stats')) as { seconds: Array<{ second: number; operations: Record<string, { sent: number; refused: number; windowMax: number }> }> }).seconds;
  }

  /** `field` of every object of type `type`, and when the last was stored (epoch ms) */
  async objectField(type: string, field: string): Promise<{ count: number; values: string[]; latestAt?: number }> {
    return (await this.get(`objects?type=${encodeURIComponent(type)}&field=${encodeURIComponent(field)}`)) as { count: number; values: string[]; latestAt?: number };
  }

  /** when each ContactId was first written as a `_ctrContactId` key (epoch ms, the fake's clock), of those written at or after `since` */
  async contactKeys(since = 0): Promise<{ count: number; at: Record<string, number> }> {
    return (await this.get(`contact-keys?since=${since}`)) as { count: number; at: Record<string, number> };
  }

  /** `field` of every profile that has it, and how many profiles there are */
  async profileField(field: string): Promise<{ count: number; values: string[] }> {
    return (await this.get(`profiles?field=${encodeURIComponent(field)}`)) as { count: number; values: string[] };
  }

  private async get(path: string): Promise<unknown> {
    const res = await fetch(`${this.url}/__fake/${path}`);
    if (!res.ok) throw new Error(`fake ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  /** seeds in batches (one JSON body of 10,000 profiles is ~2 MB); the profiles' ids */
  async seed(profiles: Array<Record<string, unknown>>): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < profiles.length; i += 5000) ids.push(...((await this.post('seed', profiles.slice(i, i + 5000))) as { ProfileIds: string[] }).ProfileIds);
    return ids;
  }

  /** The domain's profile changes go to a Kinesis stream of the fake (made with `shards` shards): its ARN. */
  async eventStream(streamName: string, domain: string, shards = 1): Promise<string> {
    return ((await this.post('event-stream', { streamName, domain, shards })) as { StreamARN: string }).StreamARN;
  }

  /**
   * Seeds profiles (with their ProfileIds) and what the shipped mapping's enrichment sources read for each:
   * calculated attributes, three Orders objects (the latest not first), membership of vip-customers.
   */
  async seedEnriched(profiles: Array<Record<string, unknown> & { ProfileId: string }>): Promise<void> {
    for (let i = 0; i < profiles.length; i += 2000) {
      const batch = profiles.slice(i, i + 2000);
      for (const p of batch) this.vip.push(p.ProfileId);
      await this.post('seed', {
        profiles: batch,
        calculatedAttributes: batch.map((p) => ({ profileId: p.ProfileId, values: { contacts_last_30_days: '2', average_hold_seconds: '31' } })),
        objects: batch.flatMap((p) =>
          [
            { orderId: 'ORD-2', status: 'DELIVERED', updatedAt: '2026-10-14T16:20:00Z' },
            { orderId: 'ORD-3', status: 'SHIPPED', updatedAt: '2026-11-27T09:05:00Z' },
            { orderId: 'ORD-1', status: 'RETURNED', updatedAt: '2026-08-02T11:41:00Z' },
          ].map((object) => ({ profileId: p.ProfileId, objectTypeName: 'Orders', object }))),
        // seeding a segment replaces its members: every VIP so far
        segments: [{ name: 'vip-customers', profileIds: this.vip }],
      });
    }
  }
  private readonly vip: string[] = [];

  /** Waits until the counts of `operations` stop moving (requests cut off at the end of a warm-up finish). */
  async settle(operations: readonly string[], maxMs = 5000): Promise<FakeCalls> {
    const count = (c: FakeCalls): number => operations.reduce((s, op) => s + (c.byOperation[op] ?? 0), 0);
    const until = Date.now() + maxMs;
    let last = await this.calls();
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await this.calls();
      if (count(now) === count(last) || Date.now() > until) return now;
      last = now;
    }
  }
}

/** Differences of two readings of /__fake/calls. */
export function callsDelta(before: FakeCalls, after: FakeCalls): FakeCalls {
  const diff = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = (b[k] ?? 0) - (a[k] ?? 0);
      if (d !== 0) out[k] = d;
    }
    return out;
  };
  return { total: after.total - before.total, byOperation: diff(before.byOperation, after.byOperation), byStatus: diff(before.byStatus, after.byStatus) };
}

// ---- bodies from callers -------------------------------------------------------------------------------------

/** What the bodies of a run are made of: the callers, the event, the fake that knows the seeded ones. */
export interface Sending {
  callers: Callers;
  events: Events;
  fake: FakeControl;
}

/** `count` new callers, seeded in the fake as known profiles. */
export async function seedCallers(s: Sending, count: number): Promise<string[]> {
  const callers = s.callers.take(count);
  await s.fake.seed(callers.map(profileOf));
  return callers;
}

/** Known callers with what the shipped mapping's enrichment sources read: calculated attributes, orders, the VIP segment. */
export async function seedEnrichedCallers(s: Sending, count: number): Promise<string[]> {
  const callers = s.callers.take(count);
  await s.fake.seedEnriched(callers.map((phone, i) => ({ ...profileOf(phone, i), ProfileId: randomBytes(16).toString('hex') })));
  return callers;
}

/** Bodies from a list of callers, one each, in order; past its end, fresh callers (never seeded). */
export function inOrder(s: Sending, callers: readonly string[]): () => string {
  let i = 0;
  return () => s.events.body(callers[i++] ?? s.callers.next());
}

/** Bodies cycling over a list of callers, on from where the previous body stopped. */
export function cycling(s: Sending, callers: readonly string[]): () => string {
  let i = 0;
  return () => s.events.body(callers[i++ % callers.length] ?? s.callers.next());
}

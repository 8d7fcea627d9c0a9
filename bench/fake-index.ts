// An index for test/support/fake-aws.ts, for the benchmark only.
//
// FakeAws answers SearchProfiles by scanning every stored profile (about 2 us a profile), and PutProfileObject
// finds its profile the same way. A benchmark that seeds ~10,000 callers so that every request meets a cold cache
// would then measure the fake (9 ms of CPU a search at 5,000 profiles, 34 ms at 15,000), not the service: the
// real Customer Profiles looks keys up in an index. This module narrows the scan to the profiles an index
// says can match, then runs the fake's own matching code on them, so the answers (items, order, paging,
// errors) are the fake's; only the cost changes. `checkIndexedSearch` compares the two on random queries.
//
// It patches FakeAws.prototype, so it must be imported before a FakeAws is created.
import { FakeAws, type FakeProfile } from '../test/support/fake-aws.js';

type Json = Record<string, unknown>;
type Entry = { domain: string; profile: FakeProfile };

/** The private members of FakeAws this module reads or wraps (TypeScript's `private`, plain properties at run time). */
interface Internals {
  store: Map<string, Entry>;
  types: Map<string, Json>;
  keyValues: (this: Internals, profile: FakeProfile, keyName: string) => string[];
  addKey: (this: Internals, profileId: string, keyName: string, values: string[]) => void;
  seedProfile: (this: Internals, p: Json, domain?: string) => FakeProfile;
  search: (this: Internals, domain: string, body: Json, query: URLSearchParams) => Json;
  putObject: (this: Internals, domain: string, body: Json, at: number) => Json;
  updateProfile: (this: Internals, domain: string, body: Json, at: number) => Json;
  reset: (this: Internals) => void;
}

interface IndexState {
  /** key name -> value -> profile ids that may hold it (a superset: entries are only dropped on a rebuild) */
  byKey: Map<string, Map<string, Set<string>>>;
  /** profile id -> position in the store's iteration order */
  order: Map<string, number>;
  next: number;
}

const STATE = Symbol('fake-index-state');
const REAL = Symbol('fake-index-real');
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

type Instance = Internals & { [STATE]?: IndexState; [REAL]?: Instance };
const real = (self: Instance): Instance => self[REAL] ?? self;

function stateOf(self: Instance): IndexState {
  const r = real(self);
  return (r[STATE] ??= { byKey: new Map(), order: new Map(), next: 0 });
}

function addTo(index: Map<string, Set<string>>, value: string, id: string): void {
  const ids = index.get(value);
  if (ids) ids.add(id);
  else index.set(value, new Set([id]));
}

function indexFor(self: Instance, keyName: string): Map<string, Set<string>> {
  const st = stateOf(self);
  const built = st.byKey.get(keyName);
  if (built) return built;
  const r = real(self);
  const index = new Map<string, Set<string>>();
  // the store's iteration order is the fake's answer order; rebuild the positions from it
  st.order.clear();
  st.next = 0;
  for (const [id, { profile }] of r.store) {
    st.order.set(id, st.next++);
    for (const v of r.keyValues(profile, keyName)) addTo(index, v, id);
  }
  st.byKey.set(keyName, index);
  return index;
}

/** The profiles that may match any of these (key, values), in the store's order. */
function candidates(self: Instance, keys: Array<{ keyName: string; values: readonly string[] }>): Map<string, Entry> {
  const r = real(self);
  const ids = new Set<string>();
  for (const { keyName, values } of keys) {
    const index = indexFor(self, keyName);
    for (const v of values) for (const id of index.get(v) ?? []) ids.add(id);
  }
  const order = stateOf(self).order;
  const out = new Map<string, Entry>();
  for (const id of [...ids].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0))) {
    const e = r.store.get(id);
    if (e) out.set(id, e);
  }
  return out;
}

/** `this` for the fake's own code: everything is the instance's, except that `store.values()` yields only `only`. */
function narrowed(self: Instance, only: Map<string, Entry>): Instance {
  const r = real(self);
  const store = new Proxy(r.store, {
    get(target, prop) {
      if (prop === 'values') return () => only.values();
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const view = Object.create(r) as Instance;
  Object.defineProperty(view, 'store', { value: store });
  Object.defineProperty(view, REAL, { value: r });
  return view;
}

/** Every scalar in a parsed object, as the fake's readSource would render it. */
function scalars(v: unknown, out: Set<string>, depth = 0): Set<string> {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.add(String(v));
  else if (depth < 8 && isObject(v)) for (const x of Object.values(v)) scalars(x, out, depth + 1);
  return out;
}

let installed = false;
const original = {} as Pick<Internals, 'seedProfile' | 'addKey' | 'updateProfile' | 'reset' | 'search' | 'putObject'>;

export function installFakeIndex(): void {
  if (installed) return;
  installed = true;
  const proto = FakeAws.prototype as unknown as Internals;
  original.seedProfile = proto.seedProfile;
  original.addKey = proto.addKey;
  original.updateProfile = proto.updateProfile;
  original.reset = proto.reset;
  original.search = proto.search;
  original.putObject = proto.putObject;

  proto.seedProfile = function (this: Instance, p: Json, domain?: string): FakeProfile {
    const profile = original.seedProfile.call(this, p, domain);
    const st = stateOf(this);
    if (st.byKey.size > 0) {
      if (!st.order.has(profile.ProfileId)) st.order.set(profile.ProfileId, st.next++);
      for (const [keyName, index] of st.byKey) for (const v of real(this).keyValues(profile, keyName)) addTo(index, v, profile.ProfileId);
    }
    return profile;
  };
  proto.addKey = function (this: Instance, profileId: string, keyName: string, values: string[]): void {
    original.addKey.call(this, profileId, keyName, values);
    const index = stateOf(this).byKey.get(keyName);
    if (index) for (const v of values) addTo(index, v, profileId);
  };
  proto.updateProfile = function (this: Instance, domain: string, body: Json, at: number): Json {
    try {
      return original.updateProfile.call(this, domain, body, at);
    } finally {
      stateOf(this).byKey.clear(); // fields changed: rebuild on the next search
    }
  };
  proto.reset = function (this: Instance): void {
    original.reset.call(this);
    const st = stateOf(this);
    st.byKey.clear();
    st.order.clear();
    st.next = 0;
  };
  proto.search = function (this: Instance, domain: string, body: Json, query: URLSearchParams): Json {
    const more: unknown = body.AdditionalSearchKeys;
    const keys = [{ KeyName: body.KeyName, Values: body.Values }, ...(Array.isArray(more) ? (more as unknown[]) : [])];
    const wellFormed = more === undefined || Array.isArray(more);
    const parsed = keys.map((k) =>
      isObject(k) && typeof k.KeyName === 'string' && Array.isArray(k.Values) && k.Values.every((v) => typeof v === 'string')
        ? { keyName: k.KeyName, values: k.Values }
        : undefined,
    );
    // anything unusual: the fake's own full scan (and its error messages)
    if (!wellFormed || parsed.some((k) => k === undefined)) return original.search.call(this, domain, body, query);
    return original.search.call(narrowed(this, candidates(this, parsed.filter((k) => k !== undefined))), domain, body, query);
  };
  proto.putObject = function (this: Instance, domain: string, body: Json, at: number): Json {
    const r = real(this);
    const type = typeof body.ObjectTypeName === 'string' ? r.types.get(`${domain}/${body.ObjectTypeName}`) : undefined;
    let object: unknown;
    try {
      object = typeof body.Object === 'string' ? JSON.parse(body.Object) : undefined;
    } catch {
      object = undefined;
    }
    const keyDefs = isObject(type) && isObject(type.Keys) ? Object.entries(type.Keys as Record<string, Array<{ StandardIdentifiers?: string[]; FieldNames?: string[] }>>) : [];
    const profileKeys = keyDefs.flatMap(([keyName, defs]) => defs.filter((d) => d.StandardIdentifiers?.includes('PROFILE')).map((d) => ({ keyName, def: d })));
    const fields = isObject(type) && isObject(type.Fields) ? (type.Fields as Record<string, { Target?: string }>) : {};
    const changesProfiles = Object.values(fields).some((f) => f.Target?.startsWith('_profile.'));
    try {
      // a PROFILE key made of one field takes one of the object's scalars as its value: look those up
      if (!isObject(object) || profileKeys.length === 0 || profileKeys.some((k) => (k.def.FieldNames ?? []).length !== 1)) {
        return original.putObject.call(this, domain, body, at);
      }
      const values = [...scalars(object, new Set())];
      return original.putObject.call(narrowed(this, candidates(this, profileKeys.map((k) => ({ keyName: k.keyName, values })))), domain, body, at);
    } finally {
      if (changesProfiles) stateOf(this).byKey.clear();
    }
  };
}

/**
 * Compares the indexed SearchProfiles with the fake's full scan on `rounds` queries over the profiles of `fake`
 * (hits, misses, legacy spellings, several keys): returns the queries whose answers differ.
 */
export function checkIndexedSearch(fake: FakeAws, domain: string, rounds = 500): string[] {
  const self = fake as unknown as Instance;
  const profiles = fake.profiles();
  const problems: string[] = [];
  const q = new URLSearchParams({ 'max-results': '100' });
  for (let i = 0; i < rounds; i++) {
    const p = profiles[Math.floor(Math.random() * profiles.length)];
    const phone = typeof p?.PhoneNumber === 'string' ? p.PhoneNumber : '+10000000000';
    const values = i % 3 === 0 ? [phone, phone.slice(1), `+1999${i}`] : i % 3 === 1 ? [`+1888${i}`] : [phone];
    const body: Json = { KeyName: '_phone', Values: values, ...(i % 5 === 0 ? { AdditionalSearchKeys: [{ KeyName: '_email', Values: ['x@example.com'] }] } : {}) };
    const indexed = JSON.stringify(self.search(domain, body, q));
    const scanned = JSON.stringify(original.search.call(self, domain, body, q));
    if (indexed !== scanned) problems.push(JSON.stringify(values));
  }
  return problems;
}

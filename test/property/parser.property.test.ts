// Property-based tests of parseContactEvent and identify: whatever body a caller sends, the parser
// either answers a ContactEvent or throws InvalidEventError naming a field, never another error; it
// never pollutes Object.prototype; identify never throws on what the parser accepted.
import { expect } from 'chai';
import fc from 'fast-check';
import { getCountries, type CountryCode } from 'libphonenumber-js/max';
import { CHANNELS, parseContactEvent, type ContactEvent } from '../../src/contact/event.js';
import { identify } from '../../src/contact/identify.js';
import { InvalidEventError } from '../../src/errors.js';
import { fixtureNames, loadFixture } from '../support/fixtures.js';

type Json = fc.JsonValue;
type Path = Array<string | number>;

const FIXTURES = fixtureNames();
const COUNTRIES: readonly CountryCode[] = getCountries();
const SPECIAL_KEYS = ['__proto__', 'constructor', 'prototype'] as const;
// Names a pollution would make visible on every object: the service reads these from plain objects.
const WATCHED = ['polluted', 'phoneNumber', 'emailAddress', 'email', 'Channel', 'ContactId', 'Details', 'ContactData', 'Attributes', 'isAdmin'];
const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

/** Sets an own, enumerable property, even one named __proto__ (as JSON.parse does). */
function defineOwn(target: object, key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Arrays and plain objects (what JSON.parse makes): the only containers the mutations walk into. */
function isContainer(v: unknown): v is Record<string | number, unknown> {
  if (Array.isArray(v)) return true;
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The paths to values inside root (the root is []), down to 12 levels: deeper than the event's own shape is noise. */
function pathsOf(root: unknown): Path[] {
  const out: Path[] = [];
  const todo: Array<[unknown, Path]> = [[root, []]];
  while (todo.length > 0) {
    const [v, at] = todo.pop()!;
    out.push(at);
    if (at.length >= 12 || !isContainer(v)) continue;
    for (const k of Array.isArray(v) ? v.keys() : Object.keys(v)) todo.push([v[k], [...at, k]]);
  }
  return out;
}

/** The container at path, following own keys only. */
function containerAt(root: unknown, path: Path): Record<string | number, unknown> | undefined {
  let v = root;
  for (const k of path) {
    if (!isContainer(v) || !Object.hasOwn(v, k)) return undefined;
    v = v[k];
  }
  return isContainer(v) ? v : undefined;
}

/** True when every key of path is an own key on the way and the value reached is an object (of any kind). */
function leadsToObject(root: unknown, path: Path): boolean {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, k)) return false;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v !== null && typeof v === 'object';
}

function nested(depth: number, leaf: Json, asArray: boolean): Json {
  let v: Json = leaf;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
}

/** A copy of a constant object, so no run edits an object another run uses. */
const fresh = (v: unknown): unknown => (typeof v === 'object' && v !== null ? structuredClone(v) : v);

/** Values a hostile or broken caller might put anywhere. */
const replacement: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(null, undefined, '', 0, -1, 1e308, true, false, [], {}, 'VOICE', 'TELEPHONE_NUMBER', 'EMAIL_ADDRESS').map(fresh) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  {
    weight: 1,
    // around every length limit of the schema, and far beyond
    arbitrary: fc
      .tuple(fc.constantFrom(64, 65, 128, 129, 256, 257, 512, 513, 1024, 1025, 32768, 32769, 200_000), fc.constantFrom('a', '9', 'é', '𝒳'))
      .map(([n, ch]) => ch.repeat(n)),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.integer({ min: 1, max: 2000 }), fc.boolean(), fc.jsonValue({ maxDepth: 1 })).map(([d, asArray, leaf]) => nested(d, leaf, asArray)),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>({ polluted: 'yes', phoneNumber: '+14255550123' }, { prototype: { polluted: 'yes' } }, { isAdmin: true }).map(fresh) },
  {
    weight: 1,
    arbitrary: fc.anything({
      maxDepth: 2,
      key: fc.oneof(fc.string(), fc.constantFrom(...SPECIAL_KEYS)),
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
    }),
  },
);

type Mutation =
  | { kind: 'drop'; at: number }
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'retype'; at: number; to: 'string' | 'number' | 'array' | 'object' | 'null' | 'boolean' }
  | { kind: 'add'; at: number; key: string; value: unknown }
  | { kind: 'nullEndpoints' };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: replacement }),
  fc.record({ kind: fc.constant('retype' as const), at: fc.nat(), to: fc.constantFrom('string', 'number', 'array', 'object', 'null', 'boolean') as fc.Arbitrary<'string'> }),
  fc.record({
    kind: fc.constant('add' as const),
    at: fc.nat(),
    key: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...SPECIAL_KEYS) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
    value: replacement,
  }),
  fc.constant({ kind: 'nullEndpoints' as const }),
);

function retyped(v: unknown, to: string): unknown {
  switch (to) {
    case 'string':
      if (typeof v === 'string') return `${v}x`;
      try {
        return JSON.stringify(v) ?? 'undefined';
      } catch {
        return 'not JSON'; // BigInt
      }
    case 'number':
      return typeof v === 'number' ? -v - 1 : 42;
    case 'array':
      return [v];
    case 'object':
      return { value: v };
    case 'boolean':
      return true;
    default:
      return null;
  }
}

/** Applies the mutations, in order, to a fresh copy of the fixture. Paths are picked modulo what exists. */
function mutate(fixture: string, mutations: readonly Mutation[]): unknown {
  const event: Record<string, unknown> = loadFixture(fixture);
  let root: unknown = event;
  for (const m of mutations) {
    if (m.kind === 'nullEndpoints') {
      const data = containerAt(root, ['Details', 'ContactData']);
      if (data) {
        data.CustomerEndpoint = null;
        data.SystemEndpoint = null;
      }
      continue;
    }
    const paths = pathsOf(root);
    const path = paths[m.at % paths.length]!;
    if (m.kind === 'add') {
      const target = containerAt(root, path);
      if (target && !Array.isArray(target)) defineOwn(target, m.key, m.value);
      continue;
    }
    if (path.length === 0) {
      root = m.kind === 'drop' ? undefined : m.kind === 'replace' ? m.value : retyped(root, m.to);
      continue;
    }
    const parent = containerAt(root, path.slice(0, -1))!;
    const key = path[path.length - 1]!;
    if (m.kind === 'drop') {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (m.kind === 'replace') defineOwn(parent, key, m.value);
    else defineOwn(parent, key, retyped(parent[key], m.to));
  }
  return root;
}

const mutatedEvent = fc
  .record({ fixture: fc.constantFrom(...FIXTURES), mutations: fc.array(mutation, { minLength: 1, maxLength: 5 }), viaJson: fc.boolean() })
  .map(({ fixture, mutations, viaJson }) => {
    const body = mutate(fixture, mutations);
    if (!viaJson) return body;
    // as the HTTP layer would see it: JSON.parse makes "__proto__" an own key, like defineOwn
    try {
      const text = JSON.stringify(body);
      return text === undefined ? body : (JSON.parse(text) as unknown);
    } catch {
      return body; // BigInt, cycles: keep the value as it is
    }
  });

/** A body the parser must survive: fixture mutations, arbitrary JSON, arbitrary values, pollution payloads. */
const anyBody = fc.oneof(
  { weight: 6, arbitrary: mutatedEvent },
  { weight: 2, arbitrary: fc.jsonValue() },
  { weight: 1, arbitrary: fc.anything({ key: fc.oneof(fc.string(), fc.constantFrom(...SPECIAL_KEYS)), withNullPrototype: true, withMap: true }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"__proto__":{"polluted":"yes"}}',
      '{"Details":{"__proto__":{"polluted":"yes"},"ContactData":{"ContactId":"a","Channel":"VOICE","__proto__":{"polluted":"yes"}}}}',
      '{"Details":{"ContactData":{"ContactId":"a","Channel":"VOICE","Attributes":{"__proto__":{"polluted":"yes","phoneNumber":"+14255550123"}}}}}',
      '{"Details":{"ContactData":{"ContactId":"a","Channel":"VOICE","Attributes":{"constructor":{"prototype":{"polluted":"yes"}}}}}}',
      '{"Details":{"ContactData":{"ContactId":"a","Channel":"VOICE"},"Parameters":{"__proto__":{"phoneNumber":"+14255550123","polluted":"yes"}}}}',
      '{"constructor":{"prototype":{"polluted":"yes"}},"Details":{"ContactData":{"ContactId":"a","Channel":"CHAT","CustomerEndpoint":{"__proto__":{"Type":"TELEPHONE_NUMBER"}}}}}',
    ).map((text) => JSON.parse(text) as unknown),
  },
);

function expectPrototypeIntact(): void {
  const probe = {} as Record<string, unknown>;
  for (const name of WATCHED) expect(probe[name], `Object.prototype.${name}`).to.equal(undefined);
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).to.deep.equal(PROTOTYPE_KEYS);
  expect(Object.getPrototypeOf(probe)).to.equal(Object.prototype);
}

/** Parses, asserting the only possible failure is InvalidEventError; returns the event or the error. */
function parseOrInvalid(body: unknown): ContactEvent | InvalidEventError {
  try {
    return parseContactEvent(body);
  } catch (err) {
    if (!(err instanceof InvalidEventError)) {
      throw new Error(`parseContactEvent threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}, not an InvalidEventError`);
    }
    return err;
  }
}

function expectWellFormedEvent(event: ContactEvent): void {
  expect(event.contactId).to.match(/^[A-Za-z0-9-]{1,128}$/);
  expect(event.initialContactId).to.match(/^[A-Za-z0-9-]{1,128}$/);
  expect(CHANNELS).to.include(event.channel);
  for (const [k, v] of Object.entries(event.attributes)) expect(v, `attribute ${k}`).to.be.a('string');
  for (const v of [event.parameters.phoneNumber, event.parameters.emailAddress, event.parameters.countryCode]) {
    if (v !== undefined) expect(v).to.be.a('string');
  }
  if (event.parameters.countryCode !== undefined) expect(event.parameters.countryCode).to.match(/^[A-Z]{2}$/);
  for (const e of [event.customerEndpoint, event.systemEndpoint]) {
    if (e !== null) {
      expect(e.type).to.be.a('string');
      if (e.address !== null) expect(e.address).to.be.a('string');
    }
  }
}

describe('parseContactEvent and identify (property-based)', () => {
  afterEach(expectPrototypeIntact);

  it('for arbitrary JSON values, answers a ContactEvent or throws InvalidEventError (code INVALID_EVENT, status 400), nothing else', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (body) => {
        const result = parseOrInvalid(body);
        if (result instanceof InvalidEventError) {
          expect(result.code).to.equal('INVALID_EVENT');
          expect(result.status).to.equal(400);
          expect(result.message.startsWith(`${result.field}: `)).to.equal(true);
        } else expectWellFormedEvent(result);
        expectPrototypeIntact();
      }),
      { numRuns: 1500 },
    );
  });

  it('for mutated fixture events and arbitrary values (dropped, replaced, retyped fields; __proto__, constructor, prototype keys; huge strings; deep nesting; unicode; null endpoints), never throws anything but InvalidEventError and never pollutes Object.prototype', () => {
    fc.assert(
      fc.property(anyBody, (body) => {
        const result = parseOrInvalid(body);
        if (!(result instanceof InvalidEventError)) expectWellFormedEvent(result);
        expectPrototypeIntact();
      }),
      { numRuns: 3000 },
    );
  });

  it('when an attribute, parameter or endpoint object carries a __proto__ key, the parsed event owns no inherited field (nothing read through a prototype)', () => {
    fc.assert(
      fc.property(mutatedEvent, (body) => {
        const result = parseOrInvalid(body);
        if (result instanceof InvalidEventError) return;
        for (const o of [result.attributes, result.parameters, result.customerEndpoint, result.systemEndpoint]) {
          if (o !== null) expect(Object.getPrototypeOf(o), 'prototype of a parsed part').to.equal(Object.prototype);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('when it refuses an event, the field it names is a dotted path of non-empty segments that leads, through the body, to where the problem is', () => {
    // The field is what the 400 tells the flow author to fix ("naming the field"): each segment but the
    // last must be a key that exists in the body, so the path can be followed. Zod's raw issue path
    // is joined with ".", so an attribute named "" or "a.b" gives "Details.ContactData.Attributes."
    // or "...Attributes.a.b", which name no field of the event.
    const withAttributes = (attributes: Record<string, Json>): Json => {
      const event = loadFixture('voice-e164.json') as { Details: { ContactData: { Attributes: unknown } } };
      event.Details.ContactData.Attributes = attributes;
      return event as unknown as Json;
    };
    fc.assert(
      fc.property(fc.oneof(mutatedEvent, fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 1 })).map(withAttributes)), (body) => {
        const result = parseOrInvalid(body);
        if (!(result instanceof InvalidEventError)) return;
        const field = result.field;
        if (field === 'body') return;
        const segments = field.split('.');
        expect(segments.every((s) => s.length > 0), `field ${JSON.stringify(field)} has an empty segment`).to.equal(true);
        const parentPath = segments.slice(0, -1).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
        expect(leadsToObject(body, parentPath), `field ${JSON.stringify(field)} cannot be followed through the body`).to.equal(true);
      }),
      {
        numRuns: 1500,
        examples: [[withAttributes({ '': 5 })], [withAttributes({ 'a.b': 5 })], [withAttributes({ 'caller.phone': ['+14255550123'] })]],
      },
    );
  });

  it('for every event the parser accepts, identify never throws in any region, nor in the two-letter countryCode the flow sent', () => {
    fc.assert(
      fc.property(mutatedEvent, fc.constantFrom(...COUNTRIES), (body, region) => {
        const result = parseOrInvalid(body);
        if (result instanceof InvalidEventError) return;
        // the resolver uses the flow's countryCode as the region, checked only for shape
        for (const r of [region, (result.parameters.countryCode ?? region)]) {
          const found = identify(result, r);
          if (found) expect(['parameter', 'endpoint', 'attribute']).to.include(found.source);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('for events whose identity fields hold arbitrary strings and unknown regions, identify never throws', () => {
    const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.stringMatching(/^\+?[\d ()-]{0,20}$/));
    fc.assert(
      fc.property(
        fc.record({
          phone: fc.option(text, { nil: undefined }),
          email: fc.option(text, { nil: undefined }),
          address: fc.option(text, { nil: null }),
          type: fc.constantFrom('TELEPHONE_NUMBER', 'EMAIL_ADDRESS', '', 'OTHER'),
          attrPhone: fc.option(text, { nil: undefined }),
          attrEmail: fc.option(text, { nil: undefined }),
          country: fc.stringMatching(/^[A-Za-z]{2}$/),
        }),
        (g) => {
          const event = loadFixture('chat-email-attribute.json') as { Details: { ContactData: Record<string, unknown>; Parameters: Record<string, unknown> } };
          event.Details.Parameters = { phoneNumber: g.phone, emailAddress: g.email, countryCode: g.country };
          event.Details.ContactData.CustomerEndpoint = { Address: g.address, Type: g.type };
          event.Details.ContactData.Attributes = { ...(g.attrPhone === undefined ? {} : { phoneNumber: g.attrPhone }), ...(g.attrEmail === undefined ? {} : { email: g.attrEmail }) };
          const result = parseOrInvalid(JSON.parse(JSON.stringify(event)));
          if (result instanceof InvalidEventError) return;
          identify(result, result.parameters.countryCode as CountryCode);
        },
      ),
      { numRuns: 1500 },
    );
  });
});

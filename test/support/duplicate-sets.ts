// What every DuplicateSets must do (cache/duplicates.ts), run against the in-process store (unit) and the Redis
// store on a single Redis and on a cluster (integration).
import { expect } from 'chai';
import type { DuplicateBounds, DuplicateSets } from '../../src/cache/duplicates.js';
import { duplicateSetId, type DuplicateSighting } from '../../src/domain/duplicates.js';

export type MakeSets = (bounds: DuplicateBounds, now: () => number) => Promise<DuplicateSets>;

const DAY = 86_400_000;
const T0 = 1_796_000_000_000;
const id = (c: string) => c.repeat(32);
const sighting = (key: string, keyHash: string, ...ids: string[]): DuplicateSighting => ({ ids: ids.sort(), key, keyHash });
const at = (tag: string, variant = '') => ({ tag, variant });

export function behavesAsDuplicateSets(make: MakeSets): void {
  let now = T0;
  const clock = () => now;
  beforeEach(() => {
    now = T0;
  });

  it('counts the answers of one set from any lookup, with when it was first and last seen and the lookups that answered it (each once)', async () => {
    const sets = await make({ maxSets: 100, ttlMs: 30 * DAY }, clock);
    const s = sighting('_phone', 'tagA', id('a'), id('b'));
    await sets.seen(s, at('tagA'), T0);
    await sets.seen(s, at('tagA'), T0 + 1000);
    await sets.seen(s, at('tagA', 'v1'), T0 + 2000);
    now = T0 + 3000;

    const set = await sets.get(duplicateSetId(s));

    expect(set).to.deep.equal({ ...s, id: duplicateSetId(s), count: 3, firstSeen: T0, lastSeen: T0 + 2000, lookups: ['tagA ', 'tagA v1'] });
    expect(await sets.count()).to.equal(1);
  });

  it('lists the most frequent first, the limit at most; the same profiles found by another key are another set', async () => {
    const sets = await make({ maxSets: 100, ttlMs: 30 * DAY }, clock);
    const byPhone = sighting('_phone', 'tagA', id('a'), id('b'));
    const byEmail = sighting('_email', 'tagE', id('a'), id('b'));
    const other = sighting('_phone', 'tagC', id('c'), id('d'), id('e'));
    for (let i = 0; i < 3; i++) await sets.seen(other, at('tagC'), T0 + i);
    for (let i = 0; i < 2; i++) await sets.seen(byEmail, at('tagE'), T0 + i);
    await sets.seen(byPhone, at('tagA'), T0);

    const listed = await sets.list(2);

    expect(listed.map((s) => [s.key, s.count, s.ids.length])).to.deep.equal([['_phone', 3, 3], ['_email', 2, 2]]);
    expect(await sets.count()).to.equal(3);
    expect((await sets.list(10)).map((s) => s.id)).to.include(duplicateSetId(byPhone));
  });

  it('keeps at most maxSets: past it the least recently seen goes, however often it was seen', async () => {
    const sets = await make({ maxSets: 2, ttlMs: 30 * DAY }, clock);
    const [x, y, z] = ['x', 'y', 'z'].map((c) => sighting('_phone', `tag${c}`, id(c), id('f')));
    for (let i = 0; i < 5; i++) await sets.seen(x!, at('tagx'), T0 + i);
    await sets.seen(y!, at('tagy'), T0 + 10);
    await sets.seen(z!, at('tagz'), T0 + 20);

    expect((await sets.list(10)).map((s) => s.key + s.keyHash).sort()).to.deep.equal(['_phonetagy', '_phonetagz']);
    expect(await sets.count()).to.equal(2);
    expect(await sets.get(duplicateSetId(x!))).to.equal(undefined);
  });

  it('forgets a set not seen within ttlMs; seen again, it starts over', async () => {
    const sets = await make({ maxSets: 100, ttlMs: DAY }, clock);
    const s = sighting('_phone', 'tagA', id('a'), id('b'));
    await sets.seen(s, at('tagA'), T0);
    await sets.seen(s, at('tagA'), T0 + 1);
    now = T0 + 1 + DAY;

    expect(await sets.get(duplicateSetId(s))).to.equal(undefined);
    expect(await sets.list(10)).to.deep.equal([]);
    expect(await sets.count()).to.equal(0);

    await sets.seen(s, at('tagA'), now);
    expect(await sets.get(duplicateSetId(s))).to.include({ count: 1, firstSeen: now, lastSeen: now });
  });

  it('records nothing with maxSets 0', async () => {
    const sets = await make({ maxSets: 0, ttlMs: DAY }, clock);
    await sets.seen(sighting('_phone', 'tagA', id('a'), id('b')), at('tagA'), T0);
    expect(await sets.count()).to.equal(0);
    expect(await sets.list(10)).to.deep.equal([]);
  });

  it('after a merge, removes every set that names a profile merged away, and returns them; the others stay', async () => {
    const sets = await make({ maxSets: 100, ttlMs: DAY }, clock);
    const ab = sighting('_phone', 'tagA', id('a'), id('b'));
    const bc = sighting('_email', 'tagE', id('b'), id('c'));
    const ad = sighting('_account', 'tagK', id('a'), id('d'));
    for (const s of [ab, bc, ad]) await sets.seen(s, at(s.keyHash), T0);

    const removed = await sets.removeNaming([id('b')]);

    expect(removed.map((s) => s.id).sort()).to.deep.equal([duplicateSetId(ab), duplicateSetId(bc)].sort());
    expect(removed.find((s) => s.id === duplicateSetId(ab))!.lookups).to.deep.equal(['tagA ']);
    expect((await sets.list(10)).map((s) => s.id)).to.deep.equal([duplicateSetId(ad)]);
  });

  it('an erasure of a caller removes the sets their key found and those their lookups answered, and no other', async () => {
    const sets = await make({ maxSets: 100, ttlMs: DAY }, clock);
    const theirs = sighting('_phone', 'tagA', id('a'), id('b'));
    const byTheirLookup = sighting('_account', 'tagK', id('c'), id('d'));
    const others = sighting('_phone', 'tagB', id('e'), id('f'));
    await sets.seen(theirs, at('tagA'), T0);
    await sets.seen(byTheirLookup, at('tagA', 'v1'), T0);
    await sets.seen(others, at('tagB'), T0);

    expect(await sets.forget('tagA')).to.equal(2);
    expect((await sets.list(10)).map((s) => s.id)).to.deep.equal([duplicateSetId(others)]);
  });
}

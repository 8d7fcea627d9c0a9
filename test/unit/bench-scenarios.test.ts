import { expect } from 'chai';
import { parseOptions } from '../../bench/options.js';
import { SCENARIOS, SERVERS, selectScenarios } from '../../bench/scenarios.js';

// The benchmark's table of scenarios (bench/scenarios.ts) and what --only selects from it.
describe('bench scenarios', () => {
  const ids = (only?: string) => selectScenarios(parseOptions(only === undefined ? [] : ['--only', only]).only).map((s) => s.id);

  it('have unique ids, each on a known server', () => {
    expect(new Set(SCENARIOS.map((s) => s.id)).size).to.equal(SCENARIOS.length);
    for (const s of SCENARIOS) expect(SERVERS, s.id).to.have.property(s.server);
  });

  it('without --only: every one, in table order', () => {
    expect(ids()).to.deep.equal(SCENARIOS.map((s) => s.id));
    expect(ids()[0]).to.equal('floor');
  });

  it('--only keeps the table order, not the order given', () => {
    expect(ids('outage,hit,floor')).to.deep.equal(['floor', 'hit', 'outage']);
  });

  it('an open-loop row needs hit, whose rate sets it', () => {
    expect(ids('floor,hit-open-25,floor-open-50')).to.deep.equal(['floor']);
    expect(ids('hit,hit-open-25,floor-open-50')).to.deep.equal(['hit', 'hit-open-25', 'floor-open-50']);
  });

  it('an unknown id is an error that lists the ids', () => {
    expect(() => ids('floor,hti')).to.throw(/--only: no scenario hti \(the scenarios: floor, hit-low, /);
  });

  it('options: positive numbers only', () => {
    expect(() => parseOptions(['--seconds', '0'])).to.throw('--seconds: expected a positive number');
    expect(() => parseOptions(['--low-connections', 'x'])).to.throw('--low-connections: expected a positive number');
    expect(parseOptions(['--minutes', '0.2', '--soak'])).to.include({ soak: true, minutes: 0.2, seconds: 15, connections: 32 });
  });
});

// A controlled clock: Date, setTimeout and setInterval faked (node:test's MockTimers) from each test's
// start to its end, so a test of retries, backoff or pacing moves time instead of waiting for it.
// setImmediate stays real: between steps of the clock, the promise chains the timers started run.
// (Mocha keeps its own references to the real timers: its test timeouts still work. Node 20 prints an
// ExperimentalWarning for MockTimers once a run.)
import { mock } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';

export interface FakeClock {
  /** Lets the work already due run: its promise chains settle (a few turns of the event loop). */
  settle(): Promise<void>;
  /** Moves the clock `ms` forward in steps of `stepMs`, letting the timers due at each step run and settle. */
  advance(ms: number, stepMs?: number): Promise<void>;
}

export function useFakeClock(startAt: number): FakeClock {
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: startAt });
  });
  afterEach(() => {
    mock.timers.reset();
  });
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) await turn();
  };
  return {
    settle,
    async advance(ms: number, stepMs = 10): Promise<void> {
      await settle();
      for (let moved = 0; moved < ms; moved += stepMs) {
        mock.timers.tick(Math.min(stepMs, ms - moved));
        await settle();
      }
    },
  };
}

// withinDeadline: a request's awaits end when its AbortSignal aborts, with one abort listener a request.
import { expect } from 'chai';
import { setImmediate as turn } from 'node:timers/promises';
import { DeadlineExceeded, withinDeadline } from '../../src/contact/deadline.js';

/** A promise the test settles. */
function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(err: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** How the promise settled, or 'pending' if it has not after a turn of the event loop. */
async function state<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown } | 'pending'> {
  let settled: { value: T } | { error: unknown } | 'pending' = 'pending';
  promise.then(
    (value) => (settled = { value }),
    (error: unknown) => (settled = { error }),
  );
  await turn();
  return settled;
}

describe('withinDeadline', () => {
  it('when the work settles first, settles with its value, and a later abort changes nothing', async () => {
    const controller = new AbortController();
    const work = deferred<string>();
    const raced = withinDeadline(work.promise, controller.signal);

    work.resolve('profile');
    expect(await raced).to.equal('profile');
    controller.abort();
    expect(await state(raced)).to.deep.equal({ value: 'profile' });
  });

  it('when the work fails first, rejects with its own error, not DeadlineExceeded', async () => {
    const controller = new AbortController();
    const failure = new Error('SearchProfiles failed');
    const raced = withinDeadline(Promise.reject(failure), controller.signal);

    const outcome = await state(raced);
    expect(outcome).to.deep.equal({ error: failure });
  });

  it('when the signal aborts while the work is pending, rejects with DeadlineExceeded at once, whatever the abort reason', async () => {
    const controller = new AbortController();
    const never = new Promise<string>(() => {});
    const raced = withinDeadline(never, controller.signal);
    expect(await state(raced)).to.equal('pending');

    controller.abort(new Error('some other reason'));

    const outcome = await state(raced);
    expect(outcome).to.have.property('error').that.is.instanceOf(DeadlineExceeded);
  });

  it('when the signal has already aborted, rejects with DeadlineExceeded', async () => {
    const raced = withinDeadline(new Promise<string>(() => {}), AbortSignal.abort());
    expect(await state(raced)).to.have.property('error').that.is.instanceOf(DeadlineExceeded);
  });

  it('every await of one request shares one abort listener on its signal, and each of them is rejected when it aborts', async () => {
    const controller = new AbortController();
    const signal = controller.signal;
    let listeners = 0;
    const add = signal.addEventListener.bind(signal);
    signal.addEventListener = (...args: Parameters<typeof add>) => {
      if (args[0] === 'abort') listeners++;
      add(...args);
    };

    const raced = Array.from({ length: 5 }, () => withinDeadline(new Promise<number>(() => {}), signal));
    expect(listeners, 'abort listeners added for five awaits').to.equal(1);

    controller.abort();
    const outcomes = await Promise.allSettled(raced);
    for (const o of outcomes) expect(o.status === 'rejected' && o.reason instanceof DeadlineExceeded, JSON.stringify(o)).to.equal(true);
  });
});

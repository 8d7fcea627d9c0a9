/** The request's deadline passed (its AbortSignal aborted) before the awaited work settled. */
export class DeadlineExceeded extends Error {}

// One promise per request that rejects when its deadline passes, raced by each of the request's awaits
// (one abort listener a request, not one per await: EventTarget listeners are not cheap in Node).
const deadlines = new WeakMap<AbortSignal, Promise<never>>();

function deadlineOf(signal: AbortSignal): Promise<never> {
  let deadline = deadlines.get(signal);
  if (!deadline) {
    deadline = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(new DeadlineExceeded());
      else signal.addEventListener('abort', () => reject(new DeadlineExceeded()), { once: true });
    });
    deadline.catch(() => undefined); // a deadline that passes after the answer is nobody's error
    deadlines.set(signal, deadline);
  }
  return deadline;
}

/** Settles with the promise, or rejects with DeadlineExceeded as soon as the signal aborts, whichever comes first. */
export function withinDeadline<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return Promise.race([promise, deadlineOf(signal)]);
}

export interface AwsCall {
  operation: string;
  outcome: string;
  ms: number;
}

/** What belongs to one request wherever its work goes: the AWS calls it made, for its log line. */
export interface RequestContext {
  awsCalls: AwsCall[];
  /** when the request's answer must leave (epoch ms): a call that cannot start in time is not made */
  deadlineAt?: number;
}

// A request's AbortSignal goes with every piece of its work that calls AWS, so it is the key to the
// request's context. (An AsyncLocalStorage would do it without the key, but in Node 20 it turns on a
// promise hook for every promise of the process: 6-11% of a cache hit's CPU, measured.)
const contexts = new WeakMap<AbortSignal, RequestContext>();

export function bindRequestContext(signal: AbortSignal, ctx: RequestContext): void {
  contexts.set(signal, ctx);
}

export function requestContextOf(signal: AbortSignal): RequestContext | undefined {
  return contexts.get(signal);
}

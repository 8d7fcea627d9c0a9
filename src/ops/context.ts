import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './logger.js';

export interface AwsCall {
  operation: string;
  outcome: string;
  ms: number;
}

/** What belongs to one request wherever its work goes: its logger and the AWS calls it made. */
export interface RequestContext {
  logger: Logger;
  awsCalls: AwsCall[];
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

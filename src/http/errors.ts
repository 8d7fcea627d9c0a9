import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, InvalidEventError } from '../errors.js';

export interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * What the request log line says of a 4xx (res.locals.refusal): the code, the field and the message of
 * the answer. Messages name a field and what is wrong with it, never the value sent.
 */
export interface Refusal {
  code: string;
  field?: string;
  reason: string;
}

export const sendError = (res: Parameters<RequestHandler>[1], status: number, code: string, message: string, field?: string): void => {
  if (status < 500) res.locals.refusal = { code, ...(field === undefined ? {} : { field }), reason: message } satisfies Refusal;
  res.status(status).json({ error: { code, message } } satisfies ErrorBody);
};

export const notFound: RequestHandler = (req, _res, next) => {
  next(new AppError('NOT_FOUND', 404, `no route for ${req.method} ${req.path.slice(0, 100)}`));
};

// body-parser's error types, mapped to the contract's codes
const BODY_ERRORS: Record<string, [number, string, string]> = {
  'entity.too.large': [413, 'PAYLOAD_TOO_LARGE', 'the body is larger than 64 KB'],
  'entity.parse.failed': [400, 'INVALID_EVENT', 'body: is not a JSON object'],
  'encoding.unsupported': [415, 'UNSUPPORTED_MEDIA_TYPE', 'unsupported content encoding'],
  'charset.unsupported': [415, 'UNSUPPORTED_MEDIA_TYPE', 'the body must be UTF-8 JSON'],
  'request.aborted': [400, 'INVALID_EVENT', 'body: the request was aborted'],
  'request.size.invalid': [400, 'INVALID_EVENT', 'body: length does not match Content-Length'],
  'stream.encoding.set': [400, 'INVALID_EVENT', 'body: unreadable'],
};

/** The one place errors become HTTP answers. Nothing internal reaches the body. */
export function errorHandler(onUnexpected: (err: unknown) => void): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    if (res.headersSent) return;
    if (err instanceof AppError) return sendError(res, err.status, err.code, err.message, err instanceof InvalidEventError ? err.field : undefined);
    const type = (err as { type?: unknown }).type;
    const known = typeof type === 'string' ? BODY_ERRORS[type] : undefined;
    if (known) return sendError(res, known[0], known[1], known[2]);
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(res, status, status === 413 ? 'PAYLOAD_TOO_LARGE' : 'INVALID_EVENT', 'the request could not be read');
    }
    onUnexpected(err);
    sendError(res, 500, 'INTERNAL', 'internal error');
  };
}

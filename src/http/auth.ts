import { hash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from '../errors.js';

// the one-shot hash: half the cost of createHash().update().digest(), on every request
const digest = (s: string): Buffer => hash('sha256', s, 'buffer');

/**
 * Bearer-token check. Tokens are compared as SHA-256 digests with timingSafeEqual, against every
 * configured token without stopping at the first match, so neither the length nor the position of
 * a token leaks through timing. Several tokens are valid at once for rotation.
 */
export function bearerAuth(tokens: readonly string[]): RequestHandler {
  const expected = tokens.map(digest);
  return (req, _res, next) => {
    // the scheme name is case-insensitive (RFC 9110 11.1)
    const presented = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '')?.[1];
    let ok = false;
    if (presented) {
      const d = digest(presented);
      for (const e of expected) ok = timingSafeEqual(d, e) || ok;
    }
    // One message whatever was wrong: missing, malformed or unknown token.
    if (!ok) throw new AppError('UNAUTHORIZED', 401, 'a valid bearer token is required');
    next();
  };
}

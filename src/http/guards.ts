import type { RequestHandler } from 'express';
import { InvalidEventError } from '../errors.js';

// Answers carry personal data and are for machines: no caching, no sniffing, no framing, no referrer.
const HEADERS: ReadonlyArray<readonly [string, string]> = Object.entries({
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
});

export const hardeningHeaders: RequestHandler = (_req, res, next) => {
  // Node's own setHeader: Express' res.set() adds nothing these values need (no Content-Type among them)
  for (const [name, value] of HEADERS) res.setHeader(name, value);
  next();
};

export const MAX_JSON_DEPTH = 32;
export const MAX_JSON_STRING = 32 * 1024;

/**
 * Refuses, before JSON.parse, a body nested deeper than MAX_JSON_DEPTH or holding a string longer
 * than MAX_JSON_STRING bytes: a Connect event is 4 levels deep, and nothing later has to walk a
 * pathological structure. A single pass over the bytes.
 */
export function checkJsonShape(buf: Buffer): void {
  let depth = 0;
  let inString = false;
  let stringStart = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) {
        inString = false;
        if (i - stringStart > MAX_JSON_STRING) throw new InvalidEventError('body', `has a string longer than ${MAX_JSON_STRING} bytes`);
      }
    } else if (c === 0x22) {
      inString = true;
      stringStart = i;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) throw new InvalidEventError('body', `is nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

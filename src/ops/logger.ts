import { format } from 'node:util';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** +14255550123 -> +1425***0123: enough to tell numbers apart in a log, not enough to call one. */
export function maskPhone(e164: string): string {
  return e164.length > 8 ? `${e164.slice(0, 5)}***${e164.slice(-4)}` : '***';
}

/** jane.doe@example.com -> j***@example.com */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  return at > 0 ? `${address[0]}***${address.slice(at)}` : '***';
}

// Anything shaped like a phone number (7+ digits, optionally +, spaces, dots, dashes, brackets) or an
// e-mail address, wherever it appears: in a message, in an error from a library, in a field.
const PHONE = /\+?\(?\d[\d\s().-]{5,}\d/g;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const UUID_OR_HEX = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/i;

// digit runs that are not phone numbers: dates (2026-11-22), times, IPv4 addresses
const NOT_A_PHONE = /^(?:\d{4}-\d{2}-\d{2}|\d{1,3}(?:\.\d{1,3}){3}|\d{2}:\d{2}(?::\d{2})?)$/;

function maskDigits(run: string): string {
  const digits = run.replace(/\D/g, '');
  if (digits.length < 7 || NOT_A_PHONE.test(run.trim())) return run;
  return run.startsWith('+') ? maskPhone(`+${digits}`) : maskPhone(digits);
}

// What either pattern needs at the least: an '@', or 7 characters of a number from a digit to a digit. A
// string without one (most of a request line: routes, statuses, channels, ids) is returned as it is,
// without running the two replacements: one test instead of two scans and two copies.
const MAYBE_IDENTITY = /@|\d[\d\s().-]{5,}\d/;

/** Masks phone numbers and e-mail addresses in a string. */
export function maskIdentities(text: string): string {
  if (!MAYBE_IDENTITY.test(text)) return text;
  return text.replace(EMAIL, maskEmail).replace(PHONE, maskDigits);
}

// Values under these keys are times or numbers the service writes itself: kept as they are. (ContactIds
// and profile ids are kept because they are UUIDs or 32 hex characters, not because of their key: a
// ContactId that looks like a phone number is masked like one.)
const KEEP = new Set(['time', 'level', 'pid', 'hostname', 'durationMs', 'ms', 'status', 'port', 'reqId']);
// Keys whose values are redacted wherever they appear: credentials, and the customer's name.
const SECRET_KEY = /^(authorization|token|password|secret|.*_?(token|secret|password)s?|firstname|lastname|middlename)$/i;
const MAX_DEPTH = 12;

function maskDeep(value: unknown, key: string, depth: number): unknown {
  if (SECRET_KEY.test(key) && value !== undefined) return '[redacted]';
  if (typeof value === 'string') return KEEP.has(key) || UUID_OR_HEX.test(value) ? value : maskIdentities(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[too deep]';
  if (value instanceof Error) return { type: value.name, message: maskIdentities(value.message), ...(value.stack ? { stack: maskIdentities(value.stack) } : {}) };
  if (Array.isArray(value)) return value.map((v) => maskDeep(v, key, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = maskDeep(v, k, depth + 1);
  return out;
}

/**
 * The one root logger. Credentials and names are redacted by key at any depth; phone numbers and
 * e-mail addresses are masked wherever they appear (messages, fields, bindings, errors echoed by
 * libraries), so no call site can leak one by accident.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return maskingChildren(pino(
    {
      level,
      base: { service: 'connect-profile-resolver' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        log: (object) => maskDeep(object, '', 0) as Record<string, unknown>,
      },
      hooks: {
        // The message itself: interpolated here (so a %j argument is masked too), and an Error given
        // as the only object becomes { err } with its message masked, rather than pino copying
        // err.message into msg unmasked.
        logMethod(args, method) {
          const [given, ...rest] = args as unknown[];
          const first = given instanceof Error ? { err: given } : given;
          const hasObject = typeof first === 'object' && first !== null;
          const texts = hasObject ? rest : [first, ...rest];
          const err = hasObject ? (first as { err?: unknown }).err : undefined;
          // a message alone with no placeholder (every request line's) needs no formatting
          const plain = texts.length === 1 && typeof texts[0] === 'string' && !texts[0].includes('%');
          const message = plain ? (texts[0] as string) : texts.length > 0 ? format(...texts) : err instanceof Error ? err.message : undefined;
          const out: unknown[] = hasObject ? [first] : [];
          if (message !== undefined) out.push(maskIdentities(message));
          method.apply(this, out as Parameters<typeof method>);
        },
      },
      serializers: { err: (e: unknown) => maskDeep(e, 'err', 0) },
    },
    destination,
  ));
}

/** pino formats a child's bindings with no hook of ours: mask them on the way in, at every level. */
function maskingChildren(root: Logger): Logger {
  // pino's own child(), from its prototype, always called on the logger it belongs to
  const pinoChild = (Object.getPrototypeOf(root) as { child: (this: Logger, bindings: object, options?: object) => Logger }).child;
  const wrap = (logger: Logger): Logger => {
    Object.defineProperty(logger, 'child', {
      value: (bindings: Record<string, unknown>, options?: object) =>
        wrap(pinoChild.call(logger, maskDeep(bindings, '', 0) as Record<string, unknown>, options)),
    });
    return logger;
  };
  return wrap(root);
}

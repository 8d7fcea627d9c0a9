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

/** The one root logger; tokens and anything that may carry identities are redacted at the logger. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'connect-profile-resolver' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'authorization',
          '*.authorization',
          'req.headers.authorization',
          'headers.authorization',
          'phoneNumber',
          'emailAddress',
          '*.phoneNumber',
          '*.emailAddress',
          'FirstName',
          'LastName',
          '*.FirstName',
          '*.LastName',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** The root of every error the service raises on purpose: a stable code, an HTTP status, a cause. */
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The codes of the service's 4xx answers: the label values of cpr_refusals_total (a closed set; a code
 * not listed here is counted as OTHER).
 */
export const REFUSAL_CODES = ['INVALID_EVENT', 'INVALID_REQUEST', 'UNAUTHORIZED', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'OTHER'] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export const refusalCode = (code: string | undefined): RefusalCode =>
  (REFUSAL_CODES as readonly string[]).includes(code ?? '') ? (code as RefusalCode) : 'OTHER';

export class InvalidEventError extends AppError {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super('INVALID_EVENT', 400, `${field}: ${problem}`);
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

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

/**
 * The one error type of flannel-ts. `code` is stable (tests and callers branch on it), `retryable` says whether
 * doing the same thing again later may succeed, `cause` keeps the library or kernel error it was translated from.
 * Library errors are translated once, inside the adapter that saw them.
 */
export class FlannelError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlannelError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** Several validation problems reported at once (config checks); `problems` lists each one. */
export class ValidationError extends FlannelError {
  constructor(
    readonly problems: readonly string[],
    what: string,
  ) {
    super('INVALID_' + what.toUpperCase().replace(/[^A-Z]+/g, '_'), `${what}: ${problems.join('; ')}`);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

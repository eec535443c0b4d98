/**
 * Structured logging (pino). Components receive a Logger and make a child per component; pure modules never
 * log. `-v` levels map onto pino levels: 0 → info, 1–3 → debug, ≥4 → trace.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(options: { verbosity?: number; name?: string; destination?: number } = {}): Logger {
  const verbosity = options.verbosity ?? 0;
  const level = verbosity >= 4 ? 'trace' : verbosity >= 1 ? 'debug' : 'info';
  return pino(
    { name: options.name ?? 'flanneld', level, base: { pid: process.pid } },
    pino.destination({ dest: options.destination ?? 2, sync: true }),
  );
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

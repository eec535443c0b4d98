/** A pino logger whose lines tests can read back (parsed JSON objects, oldest first). */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/support/logger.js';

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

export function captureLogger(level = 'info'): { logger: Logger; lines: LogLine[]; messages: (msg: string) => LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) if (text.trim() !== '') lines.push(JSON.parse(text) as LogLine);
      done();
    },
  });
  const logger = pino({ level }, stream);
  return { logger, lines, messages: (msg) => lines.filter((line) => line.msg === msg) };
}

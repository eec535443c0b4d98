/**
 * Logging (pino). Components receive a Logger and make a child per component; pure modules never log.
 *
 * Two formats on stderr, as upstream's klog writes there:
 * - `text` (the default): one klog-style line per record, `Lmmdd hh:mm:ss.uuuuuu pid source] "message" key=value…`,
 *   where L is I/W/E/F, the time is local with microseconds, and `source` is the record's component (upstream
 *   prints file:line there). The message and string values are quoted like klog's structured lines, so every
 *   record stays on one line whatever a peer or a lease writer put into it.
 * - `json`: pino's own lines, one JSON object each, for log shippers.
 *
 * `-v` levels as upstream's klog V(n): 0 → info, 1–3 → debug, ≥4 → trace (upstream logs per-entry kernel calls
 * at V(4)).
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function createLogger(options: { verbosity?: number; name?: string; destination?: number; format?: LogFormat } = {}): Logger {
  const verbosity = options.verbosity ?? 0;
  const level = verbosity >= 4 ? 'trace' : verbosity >= 1 ? 'debug' : 'info';
  const sink = pino.destination({ dest: options.destination ?? 2, sync: true });
  const base = { name: options.name ?? 'flanneld', level, base: { pid: process.pid } };
  if (options.format === 'json') return pino(base, sink);
  // Sub-millisecond time for klog's microseconds; the JSON format keeps pino's integer epoch milliseconds.
  const timestamp = () => `,"time":${(performance.timeOrigin + performance.now()).toFixed(3)}`;
  return pino({ ...base, timestamp }, klogStream((line) => sink.write(line)));
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** A pino destination that re-renders each JSON record as a klog-style line and hands it to `write`. */
export function klogStream(write: (line: string) => void, utcOffsetMinutes?: (timeMs: number) => number): DestinationStream {
  return {
    write(json: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(json) as Record<string, unknown>;
      } catch {
        write(json);
        return;
      }
      write(renderKlogLine(record, utcOffsetMinutes) + '\n');
    },
  };
}

const SEVERITY: ReadonlyArray<[number, string]> = [[60, 'F'], [50, 'E'], [40, 'W'], [0, 'I']];
/** Record keys that go into the header (or nowhere) instead of key=value pairs. */
const HEADER_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'component', 'msg']);

/**
 * One pino record as a klog line (no newline). `utcOffsetMinutes` gives the local offset for a time (default:
 * this process's time zone); tests pass a fixed one.
 */
export function renderKlogLine(record: Readonly<Record<string, unknown>>, utcOffsetMinutes = (timeMs: number) => -new Date(timeMs).getTimezoneOffset()): string {
  const level = typeof record.level === 'number' ? record.level : 30;
  const severity = SEVERITY.find(([threshold]) => level >= threshold)?.[1] ?? 'I';
  const timeMs = typeof record.time === 'number' ? record.time : 0;
  const source = String(record.component ?? record.name ?? 'flanneld');
  const pid = String(record.pid ?? '').padStart(7);
  const fields: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (HEADER_KEYS.has(key) || value === undefined) continue;
    fields.push(`${safeKey(key)}=${renderValue(value)}`);
  }
  const message = JSON.stringify(String(record.msg ?? ''));
  return `${severity}${klogTime(timeMs, utcOffsetMinutes(timeMs))} ${pid} ${source}] ${[message, ...fields].join(' ')}`;
}

/** `mmdd hh:mm:ss.uuuuuu` in the given offset from UTC. */
export function klogTime(timeMs: number, utcOffsetMinutes: number): string {
  const local = new Date(Math.floor(timeMs) + utcOffsetMinutes * 60_000);
  const two = (value: number) => String(value).padStart(2, '0');
  const micros = Math.round((timeMs - Math.floor(timeMs / 1000) * 1000) * 1000);
  return `${two(local.getUTCMonth() + 1)}${two(local.getUTCDate())} ${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())}.${String(Math.min(micros, 999_999)).padStart(6, '0')}`;
}

function renderValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  // pino serialises an Error as {type, message, stack}: keep the message, never the stack.
  const error = value as { message?: unknown; stack?: unknown };
  if (typeof error.message === 'string' && error.stack !== undefined) return JSON.stringify(error.message);
  return JSON.stringify(value) ?? 'undefined';
}

/** Keys are our own constants, but a key built from input must not break the line either. */
function safeKey(key: string): string {
  return /^[A-Za-z0-9_.-]+$/.test(key) ? key : JSON.stringify(key);
}

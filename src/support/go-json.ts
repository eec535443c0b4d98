/**
 * JSON text as Go's encoding/json writes it, so what we store or send is byte-identical to upstream's: compact,
 * and inside strings `<`, `>`, `&`, U+2028 and U+2029 escaped as \u003c…, \b and \f written as \u0008 and
 * \u000c, and invalid UTF-16 (a lone surrogate, which is what invalid UTF-8 from Go becomes) turned into
 * \ufffd. Go applies the same escaping when it re-marshals a json.RawMessage, so it holds for every BackendData.
 *
 * Object keys keep their order by default (Go's struct fields keep declaration order, which callers reproduce
 * by building objects in that order); with `sortKeys` they are sorted at every level by their UTF-8 bytes, as Go
 * marshals a map. Our own walk, not JSON.stringify of a re-ordered object: JavaScript puts integer-like keys
 * first. Pure.
 */
export interface GoJsonOptions {
  /** Sort object keys at every level (a Go map) instead of keeping their order (a Go struct). */
  readonly sortKeys?: boolean;
}

export function goJson(value: unknown, options: GoJsonOptions = {}): string {
  if (typeof value === 'string') return goJsonString(value);
  if (Array.isArray(value)) return `[${value.map((item) => goJson(item ?? null, options)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
    if (options.sortKeys) fields.sort(([a], [b]) => compareGoStrings(a, b));
    return `{${fields.map(([key, item]) => `${goJsonString(key)}:${goJson(item, options)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** One string as Go's encoding/json writes it (see goJson). */
export function goJsonString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || char === '<' || char === '>' || char === '&' || code === 0x2028 || code === 0x2029) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else if (code >= 0xd800 && code <= 0xdfff) out += '\\ufffd';
    else out += char;
  }
  return `${out}"`;
}

/** Go orders strings by their UTF-8 bytes; for JavaScript strings that is code point order, not UTF-16's. */
export function compareGoStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

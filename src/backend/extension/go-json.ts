/**
 * JSON text as Go's encoding/json writes it, for byte-compatible lease values. It differs from JSON.stringify
 * only inside strings: Go escapes `<`, `>`, `&`, U+2028 and U+2029 as \u003c…, writes \b and \f as \u0008 and
 * \u000c, and turns invalid UTF-16 (lone surrogates, from invalid UTF-8 in Go) into \ufffd. Go applies the same
 * escaping when it re-marshals a json.RawMessage, so it holds for every BackendData, not only the extension
 * backend's string (e.g. PreStartupCommand printing `a<b`). Object keys keep their order. Pure.
 */
export function goJsonStringify(value: unknown): string {
  if (typeof value === 'string') return goJsonString(value);
  if (Array.isArray(value)) return `[${value.map((item) => goJsonStringify(item ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
    return `{${fields.map(([key, item]) => `${goJsonString(key)}:${goJsonStringify(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

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

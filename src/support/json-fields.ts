/**
 * Go encoding/json field matching for decoding upstream's JSON documents: an exact field-name match wins,
 * otherwise a case-insensitive one; among several matches the last one wins. Unknown keys are ignored.
 */
export function pickFields<F extends string>(
  document: Record<string, unknown>,
  fields: readonly F[],
): Partial<Record<F, unknown>> {
  const picked: Partial<Record<F, unknown>> = {};
  const exact = new Set<F>();
  for (const [key, value] of Object.entries(document)) {
    const field = fields.find((name) => name === key) ?? fields.find((name) => name.toLowerCase() === key.toLowerCase());
    if (field === undefined) continue;
    if (exact.has(field) && key !== field) continue;
    if (key === field) exact.add(field);
    picked[field] = value;
  }
  return picked;
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

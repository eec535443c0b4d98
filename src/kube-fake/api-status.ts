/**
 * metav1.Status: how the Kubernetes API server reports a failure, in HTTP bodies and in watch ERROR events.
 * ApiStatusError carries one through the fake server's pure parts to its HTTP layer.
 */
export type JsonObject = Record<string, unknown>;

export class ApiStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: JsonObject,
  ) {
    super(message);
    this.name = 'ApiStatusError';
  }

  toStatus(): JsonObject {
    return statusObject(this.code, this.reason, this.message, this.details);
  }
}

export function statusObject(code: number, reason: string, message: string, details?: JsonObject): JsonObject {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

export const notFound = (kind: string, name: string) =>
  new ApiStatusError(404, 'NotFound', `${kind} ${JSON.stringify(name)} not found`, { name, kind: kind.toLowerCase() + 's' });
export const badRequest = (message: string) => new ApiStatusError(400, 'BadRequest', message);
/** 422 Invalid with one cause, as the API server words it: `Node "n1" is invalid: <field>: <message>`. */
export const invalid = (kind: string, name: string, field: string, message: string) =>
  new ApiStatusError(422, 'Invalid', `${kind} ${JSON.stringify(name)} is invalid: ${field}: ${message}`, {
    name, kind, causes: [{ reason: 'FieldValueInvalid', message, field }],
  });
export const gone = (message: string) => new ApiStatusError(410, 'Expired', message);

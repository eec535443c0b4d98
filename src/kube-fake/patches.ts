/**
 * The three PATCH formats of the Kubernetes API, applied to plain JSON objects (pure):
 * - strategic merge (`application/strategic-merge-patch+json`): maps merge, `null` deletes, lists replace except
 *   where the Node schema names a merge key (status.conditions and status.addresses by `type`,
 *   status.volumesAttached by `name`, metadata.ownerReferences by `uid`) or merges primitives (spec.podCIDRs,
 *   metadata.finalizers); the directives `$patch` (replace, delete, merge), `$deleteFromPrimitiveList/<field>`
 *   and `$retainKeys` are honoured, `$setElementOrder/<field>` accepted (order is not enforced);
 * - JSON merge patch (RFC 7386, `application/merge-patch+json`);
 * - JSON patch (RFC 6902, `application/json-patch+json`): the body must be an array of operations, as the API
 *   server requires (an object is the classic client mistake this catches).
 * Failures are ApiStatusError 400 / 422 with a message naming the problem.
 */
import { ApiStatusError, type JsonObject, badRequest } from './api-status.js';

const MERGE_KEYS: Readonly<Record<string, string>> = {
  'status.conditions': 'type',
  'status.addresses': 'type',
  'status.volumesAttached': 'name',
  'metadata.ownerReferences': 'uid',
};
const PRIMITIVE_MERGE = new Set(['spec.podCIDRs', 'metadata.finalizers']);

export const PATCH_TYPES = ['application/strategic-merge-patch+json', 'application/merge-patch+json', 'application/json-patch+json'] as const;
export type PatchType = (typeof PATCH_TYPES)[number];

export function applyPatch(target: JsonObject, type: PatchType, body: string): JsonObject {
  let patch: unknown;
  try {
    patch = JSON.parse(body);
  } catch (error) {
    throw badRequest(`error decoding patch: ${(error as Error).message}`);
  }
  if (type === 'application/json-patch+json') {
    if (!Array.isArray(patch)) throw badRequest(`json: cannot unmarshal ${jsonKind(patch)} into Go value of type []handlers.jsonPatchOp`);
    return jsonPatch(target, patch);
  }
  if (!isObject(patch)) throw badRequest(`error decoding patch: json: cannot unmarshal ${jsonKind(patch)} into Go value of type map[string]interface {}`);
  const result = type === 'application/merge-patch+json' ? mergePatch(target, patch) : strategicMerge(target, patch, '');
  if (!isObject(result)) throw badRequest('the patch deleted the whole object');
  return result;
}

export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'object' : typeof value === 'string' ? 'string' : typeof value === 'number' ? 'number' : 'bool';
}

/** RFC 7386. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** Strategic merge of `patch` into `target` at `path` (dotted field path from the object's root). */
export function strategicMerge(target: unknown, patch: JsonObject, path: string): unknown {
  const directive = patch.$patch;
  if (directive === 'delete') return undefined;
  const rest = Object.fromEntries(Object.entries(patch).filter(([key]) => key !== '$patch'));
  if (directive === 'replace') return stripDirectives(rest);
  if (directive !== undefined && directive !== 'merge') throw badRequest(`unknown patch directive ${JSON.stringify(directive)} at ${path || '<root>'}`);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  let retain: unknown;
  for (const [key, value] of Object.entries(rest)) {
    const field = path === '' ? key : `${path}.${key}`;
    if (key === '$retainKeys') {
      retain = value;
    } else if (key.startsWith('$setElementOrder/')) {
      // Ordering hints only; accepted, not enforced.
    } else if (key.startsWith('$deleteFromPrimitiveList/')) {
      const name = key.slice('$deleteFromPrimitiveList/'.length);
      if (!Array.isArray(value)) throw badRequest(`${key}: expected a list`);
      const current = result[name];
      if (Array.isArray(current)) result[name] = current.filter((item) => !value.some((gone) => deepEqual(gone, item)));
    } else if (key.startsWith('$')) {
      throw badRequest(`unknown patch directive ${JSON.stringify(key)} at ${path || '<root>'}`);
    } else if (value === null) {
      delete result[key];
    } else if (Array.isArray(value)) {
      result[key] = mergeList(result[key], value, field);
    } else if (isObject(value)) {
      const merged = strategicMerge(result[key], value, field);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    } else {
      result[key] = value;
    }
  }
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw badRequest('$retainKeys: expected a list');
    for (const key of Object.keys(result)) if (!retain.includes(key)) delete result[key];
  }
  return result;
}

function mergeList(target: unknown, patch: unknown[], field: string): unknown[] {
  const current = Array.isArray(target) ? target : [];
  if (patch.some((item) => isObject(item) && item.$patch === 'replace')) {
    return patch.filter((item) => !(isObject(item) && item.$patch === 'replace')).map(stripDirectives);
  }
  if (PRIMITIVE_MERGE.has(field)) {
    const result = [...current];
    for (const item of patch) if (!result.some((existing) => deepEqual(existing, item))) result.push(item);
    return result;
  }
  const mergeKey = MERGE_KEYS[field];
  if (mergeKey === undefined) return patch.map(stripDirectives);
  const result = [...current];
  for (const item of patch) {
    if (!isObject(item) || item[mergeKey] === undefined) throw badRequest(`${field}: every element needs its merge key ${JSON.stringify(mergeKey)}`);
    const index = result.findIndex((existing) => isObject(existing) && deepEqual(existing[mergeKey], item[mergeKey]));
    if (item.$patch === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) {
      result[index] = strategicMerge(result[index], item, field);
    } else {
      result.push(stripDirectives(item));
    }
  }
  return result;
}

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripDirectives);
  if (!isObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => !key.startsWith('$')).map(([key, item]) => [key, stripDirectives(item)]));
}

/** RFC 6902 on a copy: add, remove, replace, move, copy, test. */
export function jsonPatch(target: JsonObject, operations: unknown[]): JsonObject {
  let document: unknown = structuredClone(target);
  for (const [index, operation] of operations.entries()) {
    if (!isObject(operation) || typeof operation.op !== 'string' || typeof operation.path !== 'string') {
      throw badRequest(`json patch operation ${index}: needs "op" and "path"`);
    }
    const { op, path } = operation;
    const from = typeof operation.from === 'string' ? operation.from : undefined;
    switch (op) {
      case 'add': document = pointerSet(document, path, operation.value, 'add'); break;
      case 'replace': document = pointerSet(document, path, operation.value, 'replace'); break;
      case 'remove': document = pointerRemove(document, path); break;
      case 'test':
        if (!deepEqual(pointerGet(document, path), operation.value)) throw new ApiStatusError(422, 'Invalid', `json patch test operation ${index} failed at ${path}`);
        break;
      case 'move':
      case 'copy': {
        if (from === undefined) throw badRequest(`json patch operation ${index}: ${op} needs "from"`);
        const value = structuredClone(pointerGet(document, from));
        if (op === 'move') document = pointerRemove(document, from);
        document = pointerSet(document, path, value, 'add');
        break;
      }
      default: throw badRequest(`json patch operation ${index}: unknown op ${JSON.stringify(op)}`);
    }
  }
  if (!isObject(document)) throw badRequest('the patch replaced the whole object with a non-object');
  return document;
}

function pointerTokens(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path.slice(1).split('/').map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function pointerGet(document: unknown, path: string): unknown {
  let current = document;
  for (const token of pointerTokens(path)) {
    if (Array.isArray(current)) current = current[Number(token)];
    else if (isObject(current)) current = current[token];
    else current = undefined;
    if (current === undefined) throw new ApiStatusError(422, 'Invalid', `json patch: path ${path} does not exist`);
  }
  return current;
}

function pointerSet(document: unknown, path: string, value: unknown, mode: 'add' | 'replace'): unknown {
  const tokens = pointerTokens(path);
  const last = tokens.pop();
  if (last === undefined) return value;
  const parent = pointerGet(document, tokens.length === 0 ? '' : '/' + tokens.map((t) => t.replace(/~/g, '~0').replace(/\//g, '~1')).join('/'));
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length || (mode === 'replace' && index >= parent.length)) {
      throw new ApiStatusError(422, 'Invalid', `json patch: index ${last} out of range at ${path}`);
    }
    parent.splice(index, mode === 'replace' ? 1 : 0, value);
  } else if (isObject(parent)) {
    if (mode === 'replace' && !(last in parent)) throw new ApiStatusError(422, 'Invalid', `json patch: path ${path} does not exist`);
    parent[last] = value;
  } else {
    throw new ApiStatusError(422, 'Invalid', `json patch: parent of ${path} is not a container`);
  }
  return document;
}

function pointerRemove(document: unknown, path: string): unknown {
  const tokens = pointerTokens(path);
  const last = tokens.pop();
  if (last === undefined) throw badRequest('json patch: cannot remove the whole object');
  const parent = pointerGet(document, tokens.length === 0 ? '' : '/' + tokens.map((t) => t.replace(/~/g, '~0').replace(/\//g, '~1')).join('/'));
  if (Array.isArray(parent) && Number(last) < parent.length) parent.splice(Number(last), 1);
  else if (isObject(parent) && last in parent) delete parent[last];
  else throw new ApiStatusError(422, 'Invalid', `json patch: path ${path} does not exist`);
  return document;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((item, index) => deepEqual(item, b[index]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && deepEqual(a[key], b[key]));
  }
  return false;
}

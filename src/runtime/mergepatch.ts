// RFC 7386 JSON merge patches computed from two documents: the smallest patch that turns `from`
// into `to` (arrays are replaced whole, removed keys become null). Undefined when nothing changed.
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(from: unknown, to: unknown): Json | undefined {
  if (isObject(from) && isObject(to)) {
    const patch: Record<string, Json> = {};
    for (const key of Object.keys(from)) if (!(key in to) || to[key] === undefined) patch[key] = null;
    for (const [key, value] of Object.entries(to)) {
      if (value === undefined) continue;
      const inner = key in from ? mergePatch(from[key], value) : (structuredClone(value) as Json);
      if (inner !== undefined) patch[key] = inner;
    }
    return Object.keys(patch).length ? patch : undefined;
  }
  return deepEqual(from, to) ? undefined : (structuredClone(to) as Json);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = new Set(
      [...Object.keys(a), ...Object.keys(b)].filter((k) => a[k] !== undefined || b[k] !== undefined),
    );
    return [...keys].every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

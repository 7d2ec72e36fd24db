// The one trimmer of text written to a status (rule 14). Text copied into a status comes from
// tenants (titles, PromQL, notes, receiver answers) and can exceed the CRD's limits; the API server
// then refuses the whole status write (422) on every pass and the incident is stuck where it stands.
// fitToSchema is driven by the same TypeBox schemas the CRDs are generated from, so a limit changed
// in the schema is the limit enforced here, and no writer can forget a field.
import type { TSchema } from 'typebox';

/** What a trimmed text ends with: one character, so it fits any limit of at least one. */
export const ELLIPSIS = '…';

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/**
 * The text within maxLength characters, ending with an ellipsis when it was cut. Lengths are UTF-16
 * code units, which are never fewer than the code points the API server counts, so the result fits
 * the schema however the text is encoded; a surrogate pair is never split.
 */
export function trimText(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  if (maxLength < 1) return '';
  let cut = maxLength - ELLIPSIS.length;
  if (cut > 0 && isHighSurrogate(text.charCodeAt(cut - 1))) cut -= 1;
  return `${text.slice(0, cut)}${ELLIPSIS}`;
}

/**
 * The text within maxBytes bytes of UTF-8, ending with an ellipsis when it was cut: for the API
 * fields bounded in bytes rather than characters (an Event's note).
 */
export function trimUtf8(text: string, maxBytes: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(text).length <= maxBytes) return text;
  const budget = maxBytes - encoder.encode(ELLIPSIS).length;
  if (budget < 0) return '';
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = encoder.encode(char).length;
    if (bytes + size > budget) break;
    bytes += size;
    end += char.length;
  }
  return `${text.slice(0, end)}${ELLIPSIS}`;
}

/** The OpenAPI keywords the walk reads; TypeBox schemas are plain JSON Schema objects. */
interface SchemaNode {
  type?: string;
  maxLength?: number;
  maxItems?: number;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  items?: SchemaNode;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function fit(schema: SchemaNode, value: unknown): unknown {
  if (typeof value === 'string')
    return schema.maxLength !== undefined ? trimText(value, schema.maxLength) : value;
  if (Array.isArray(value)) {
    // Every bounded list in a status is oldest first (timeline, ledger, attempts): the newest stay.
    // Writers that must not lose entries bound their lists themselves, before this last line.
    const kept = schema.maxItems !== undefined ? value.slice(-schema.maxItems) : value;
    const items = schema.items;
    return items ? kept.map((item) => fit(items, item)) : kept;
  }
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    const extra = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
    for (const [key, field] of Object.entries(value)) {
      const fieldSchema = schema.properties?.[key] ?? extra;
      out[key] = fieldSchema ? fit(fieldSchema, field) : field;
    }
    return out;
  }
  return value;
}

/**
 * The value with every string cut to its schema's maxLength and every list to its maxItems (keeping
 * the newest). Idempotent, so a trimmed status decided again is the same status (rule 12).
 */
export function fitToSchema<T>(schema: TSchema, value: T): T {
  return fit(schema, value) as T;
}

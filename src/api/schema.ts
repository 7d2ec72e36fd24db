// Building blocks for the CRD schemas. Every schema here is a TypeBox schema, so one definition
// gives both the OpenAPI v3 schema the API server validates with and the TypeScript type the
// operator uses (Static<typeof X>). Only OpenAPI keywords that structural CRD schemas allow are used.
import { Type, type TSchema, type TUnsafe } from 'typebox';
import { WORKLOAD_KINDS } from './group.ts';

export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** Attaches CEL validation rules (x-kubernetes-validations) to a schema. */
export function withRules<S extends TSchema>(schema: S, ...rules: CelRule[]): S {
  return { ...schema, 'x-kubernetes-validations': rules };
}

/** A string from a fixed set, as an OpenAPI `enum` (structural schemas allow no anyOf of consts). */
export function stringEnum<const V extends readonly string[]>(
  values: V,
  options: { description?: string; default?: V[number] } = {},
): TUnsafe<V[number]> {
  return Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...options });
}

/** A map of strings, bounded so that CEL rules iterating it stay within the cost budget. */
export function stringMap(
  options: { description?: string; maxProperties?: number; maxValueLength?: number } = {},
): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: options.maxValueLength ?? 1024 },
    maxProperties: options.maxProperties ?? 64,
    ...(options.description ? { description: options.description } : {}),
  });
}

/** Kubernetes-style durations: 90s, 15m, 4h, 1h30m, 500ms. */
export const DURATION_PATTERN = '^([0-9]{1,6}(ms|s|m|h))+$';

/**
 * A duration, optionally within bounds the API server enforces (CEL parses it as Go does): every
 * duration a tenant writes becomes a timer, a deadline or a resource held by the operator.
 */
export function duration(
  description: string,
  defaultValue?: string,
  bounds: { min?: string; max?: string } = {},
) {
  const { min, max } = bounds;
  const range = [min ? `at least ${min}` : '', max ? `at most ${max}` : ''].filter(Boolean).join(' and ');
  const schema = Type.String({
    pattern: DURATION_PATTERN,
    maxLength: 32,
    description: `${description} A duration such as 90s, 15m, 4h or 1h30m${range ? `, ${range}` : ''}.`,
    ...(defaultValue ? { default: defaultValue } : {}),
  });
  return range
    ? withRules(schema, {
        rule: [
          min ? `duration(self) >= duration('${min}')` : '',
          max ? `duration(self) <= duration('${max}')` : '',
        ]
          .filter(Boolean)
          .join(' && '),
        message: `must be ${range}`,
      })
    : schema;
}

/** An RFC 3339 timestamp. */
export function timestamp(description: string) {
  return Type.String({ format: 'date-time', maxLength: 64, description });
}

/** A DNS-1123 subdomain: the names of Deployments, Secrets, policies. */
export function objectName(description: string) {
  return Type.String({
    minLength: 1,
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
    description,
  });
}

/** A Deployment, StatefulSet or DaemonSet by name, in the namespace of the object that names it. */
export function workloadRef(options: { description: string; name: string }) {
  return Type.Object(
    {
      kind: stringEnum(WORKLOAD_KINDS, {
        default: 'Deployment',
        description: 'Deployment, StatefulSet or DaemonSet.',
      }),
      name: objectName(options.name),
    },
    { description: options.description },
  );
}

/** A reference to one key of a Secret in the object's own namespace. */
export const SecretKeyRef = Type.Object(
  {
    name: objectName('Name of the Secret, in the same namespace.'),
    key: Type.String({
      minLength: 1,
      maxLength: 253,
      pattern: '^[-._a-zA-Z0-9]+$',
      description: 'Key within the Secret.',
    }),
  },
  { description: 'A key of a Secret in the same namespace.' },
);

/** metav1.Condition, as every Kubernetes API writes it. */
export const Condition = Type.Object({
  type: Type.String({
    maxLength: 316,
    pattern:
      '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
  }),
  status: stringEnum(['True', 'False', 'Unknown'] as const),
  observedGeneration: Type.Optional(Type.Integer({ minimum: 0, format: 'int64' })),
  lastTransitionTime: Type.String({ format: 'date-time' }),
  reason: Type.String({ minLength: 1, maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
  message: Type.String({ maxLength: 32768 }),
});

export function conditions(description: string) {
  return Type.Array(Condition, {
    maxItems: 16,
    description,
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['type'],
  });
}

/** Standard object metadata; the API server validates it, the schema only names it. */
export const ObjectMeta = Type.Object(
  {
    name: Type.Optional(Type.String()),
    namespace: Type.Optional(Type.String()),
    uid: Type.Optional(Type.String()),
    resourceVersion: Type.Optional(Type.String()),
    generation: Type.Optional(Type.Integer()),
    creationTimestamp: Type.Optional(Type.String()),
    deletionTimestamp: Type.Optional(Type.String()),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  { additionalProperties: true },
);

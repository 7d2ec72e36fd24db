// A Kubernetes label selector (metav1.LabelSelector): the schema a RemediationPolicy's
// spec.target.selector is written in, and what it means, as apimachinery's labels package gives it:
// every matchLabels pair and every matchExpressions requirement must hold, and an empty selector
// selects every object. The CRD checks the structure; the syntax of keys and values (which a
// structural schema cannot check on map keys) is checked here, for the policy's Ready condition.
import { Type, type Static } from 'typebox';
import { stringEnum, stringMap, withRules } from './schema.ts';

export const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** A qualified name: a DNS-1123 subdomain prefix of at most 253, a '/', a name of at most 63. */
const MAX_LABEL_KEY = 253 + 1 + 63;
const MAX_LABEL_NAME = 63;
const MAX_LABEL_VALUE = 63;
const MAX_PREFIX = 253;

export const LabelSelectorRequirement = withRules(
  Type.Object(
    {
      key: Type.String({ minLength: 1, maxLength: MAX_LABEL_KEY, description: 'The label key.' }),
      operator: stringEnum(SELECTOR_OPERATORS, { description: 'In, NotIn, Exists or DoesNotExist.' }),
      values: Type.Optional(
        Type.Array(Type.String({ maxLength: MAX_LABEL_VALUE }), {
          maxItems: 32,
          description: 'For In and NotIn: the label values. Empty for Exists and DoesNotExist.',
        }),
      ),
    },
    { description: 'One requirement on a label, as in metav1.LabelSelector.' },
  ),
  {
    rule: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
    message: 'In and NotIn need at least one value; Exists and DoesNotExist take none',
    fieldPath: '.values',
  },
);
export type LabelSelectorRequirement = Static<typeof LabelSelectorRequirement>;

export const LabelSelector = Type.Object(
  {
    matchLabels: Type.Optional(
      stringMap({
        maxProperties: 16,
        maxValueLength: MAX_LABEL_VALUE,
        description: 'Labels the object must carry with exactly these values.',
      }),
    ),
    matchExpressions: Type.Optional(
      Type.Array(LabelSelectorRequirement, { maxItems: 16, description: 'Requirements; all must hold.' }),
    ),
  },
  {
    description:
      'A Kubernetes label selector (matchLabels and matchExpressions, all must hold); {} selects every object.',
  },
);
export type LabelSelector = Static<typeof LabelSelector>;

type Labels = Readonly<Record<string, string>>;

/** Whether the labels satisfy the selector; a selector with a syntax error selects nothing. */
export function selectorMatches(selector: LabelSelector, labels: Labels): boolean {
  if (selectorProblems(selector, '').length > 0) return false;
  const has = (key: string) => Object.hasOwn(labels, key);
  const pairs = Object.entries(selector.matchLabels ?? {});
  if (!pairs.every(([key, value]) => has(key) && labels[key] === value)) return false;
  return (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    switch (operator) {
      case 'In':
        return has(key) && values.includes(labels[key] ?? '');
      case 'NotIn':
        return !has(key) || !values.includes(labels[key] ?? '');
      case 'Exists':
        return has(key);
      case 'DoesNotExist':
        return !has(key);
    }
  });
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why a label key is not a qualified name (`[prefix/]name`), as Kubernetes checks it. */
function keyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    if (
      prefix.length === 0 ||
      prefix.length > MAX_PREFIX ||
      !prefix.split('.').every((p) => DNS1123_LABEL.test(p))
    )
      return `the prefix before '/' must be a DNS-1123 subdomain of at most ${MAX_PREFIX} characters (lowercase letters, digits, '-' and '.'), such as example.com`;
  }
  if (name.length === 0 || name.length > MAX_LABEL_NAME || !NAME.test(name))
    return `the name must be 1-${MAX_LABEL_NAME} letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  return undefined;
}

/** Why a label value is not one (empty is a valid value). */
function valueProblem(value: string): string | undefined {
  return value === '' || (value.length <= MAX_LABEL_VALUE && NAME.test(value))
    ? undefined
    : `a label value is empty or 1-${MAX_LABEL_VALUE} letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
}

const quote = (text: string) => JSON.stringify(text.length > 70 ? `${text.slice(0, 67)}...` : text);

/** The selector's syntax errors, each as `<path>...: <reason>`. */
export function selectorProblems(selector: LabelSelector, path: string): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const at = `${path}.matchLabels[${quote(key)}]`;
    const bad = keyProblem(key);
    if (bad) problems.push(`${at}: ${quote(key)} is not a valid label key: ${bad}`);
    const badValue = valueProblem(value);
    if (badValue) problems.push(`${at}: ${quote(value)} is not a valid label value: ${badValue}`);
  }
  for (const [i, { key, operator, values = [] }] of (selector.matchExpressions ?? []).entries()) {
    const at = `${path}.matchExpressions[${i}]`;
    const bad = keyProblem(key);
    if (bad) problems.push(`${at}.key: ${quote(key)} is not a valid label key: ${bad}`);
    for (const [j, value] of values.entries()) {
      const badValue = valueProblem(value);
      if (badValue)
        problems.push(`${at}.values[${j}]: ${quote(value)} is not a valid label value: ${badValue}`);
    }
    // The CRD refuses these too; a policy built elsewhere (a dry run, an older CRD) may still carry them.
    const needsValues = operator === 'In' || operator === 'NotIn';
    if (needsValues !== values.length > 0)
      problems.push(
        `${at}.values: ${operator} ${needsValues ? 'needs at least one value' : 'takes no values'}`,
      );
  }
  return problems;
}

/**
 * The selector as kubectl's -l writes it (`app=api,tier in (web,api),!canary`), cut to `max`
 * characters: it goes into status messages. The empty selector is `everything`.
 */
export function describeSelector(selector: LabelSelector, max = 200): string {
  const parts = [
    ...Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(selector.matchExpressions ?? []).map(({ key, operator, values = [] }) => {
      switch (operator) {
        case 'In':
          return `${key} in (${values.join(',')})`;
        case 'NotIn':
          return `${key} notin (${values.join(',')})`;
        case 'Exists':
          return key;
        case 'DoesNotExist':
          return `!${key}`;
      }
    }),
  ];
  const text = parts.length ? parts.join(',') : 'everything';
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

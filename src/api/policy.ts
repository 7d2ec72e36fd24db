import { Type, type Static } from 'typebox';
import { ALERT_REMEDIATION_ENABLED, ALERT_REMEDIATION_LABEL, SEVERITIES, WORKLOAD_KINDS } from './group.ts';
import { PolicyPublic } from './public.ts';
import { actionList, Escalation, MAX_DELAY, Verification } from './remediation.ts';
import { LabelSelector } from './selector.ts';
import { conditions, duration, ObjectMeta, objectName, stringEnum, stringMap, withRules } from './schema.ts';

export const MATCH_OPERATORS = ['=', '!=', '=~', '!~'] as const;
export type MatchOperator = (typeof MATCH_OPERATORS)[number];

export const LabelMatcher = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'The label name; any UTF-8, as Prometheus 3 allows (service.name, http.route).',
    }),
    operator: stringEnum(MATCH_OPERATORS, {
      default: '=',
      description: 'Alertmanager-style: =, !=, =~ (regex, anchored), !~.',
    }),
    value: Type.String({
      maxLength: 1024,
      description: 'The value, or for =~ and !~ an RE2 regular expression matched against the whole value.',
    }),
  },
  { description: 'One label matcher, as in Alertmanager routes.' },
);
export type LabelMatcher = Static<typeof LabelMatcher>;

/** The alert `severity` label values Prometheus rules use most, mapped onto the playbook's P1-P4. */
export const DEFAULT_SEVERITY_MAPPING = { critical: 'P1', error: 'P2', warning: 'P3', info: 'P4' } as const;

export const PolicySeverity = withRules(
  Type.Object(
    {
      value: Type.Optional(
        stringEnum(SEVERITIES, { description: 'A fixed severity for every incident of this policy.' }),
      ),
      fromLabel: Type.String({
        minLength: 1,
        maxLength: 128,
        default: 'severity',
        description: 'The alert label mapped onto a severity.',
      }),
      mapping: Type.Optional(
        withRules(
          stringMap({
            maxProperties: 16,
            maxValueLength: 2,
            description: 'Label value → P1..P4. Defaults to critical→P1, error→P2, warning→P3, info→P4.',
          }),
          {
            rule: "self.all(k, self[k] in ['P1', 'P2', 'P3', 'P4'])",
            message: 'severity mapping values must be P1, P2, P3 or P4',
          },
        ),
      ),
      default: stringEnum(SEVERITIES, {
        default: 'P3',
        description: 'When the label is missing or not in the mapping.',
      }),
    },
    {
      description:
        'How an alert maps to a severity: a fixed value, or the mapped value of one of its labels.',
      default: { fromLabel: 'severity', default: 'P3' },
    },
  ),
  {
    rule: '!(has(self.value) && has(self.mapping))',
    message: 'give a fixed value or a mapping, not both',
    fieldPath: '.mapping',
  },
);

export const PolicyTarget = withRules(
  Type.Object(
    {
      kind: stringEnum(WORKLOAD_KINDS, { default: 'Deployment' }),
      name: Type.Optional(objectName('A fixed workload name.')),
      nameFromLabel: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 128,
          description: 'The alert label that carries the workload name (such as deployment).',
        }),
      ),
      selector: Type.Optional({
        ...LabelSelector,
        description:
          `The workloads the policy may act on: the target must carry these labels, checked right before every action. ` +
          `Without a selector, a target named from an alert label must carry ${ALERT_REMEDIATION_LABEL}=${ALERT_REMEDIATION_ENABLED}; {} allows every workload of the namespace.`,
      }),
    },
    { description: "The workload to act on, always in the policy's own namespace." },
  ),
  {
    rule: 'has(self.name) != has(self.nameFromLabel)',
    message: 'give the target name exactly one way: name or nameFromLabel',
  },
);

export const Guards = Type.Object(
  {
    maxAttempts: Type.Integer({
      minimum: 1,
      maximum: 10,
      default: 3,
      description: 'Attempts per incident before escalating.',
    }),
    cooldown: duration(
      'After an automated action on a target, further incidents on it within this time escalate instead of acting.',
      '30m',
      { max: MAX_DELAY },
    ),
    maxPerHour: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 3,
      description: 'Automated actions per target per rolling hour.',
    }),
  },
  { description: 'Harm limits.', default: { maxAttempts: 3, cooldown: '30m', maxPerHour: 3 } },
);
export type Guards = Static<typeof Guards>;

export const RemediationPolicySpec = Type.Object({
  match: Type.Object(
    {
      alertName: Type.String({ minLength: 1, maxLength: 253, description: 'The alertname label to match.' }),
      labels: Type.Optional(
        Type.Array(LabelMatcher, { maxItems: 16, description: 'Further matchers; all must hold.' }),
      ),
    },
    { description: 'Which alerts the policy applies to.' },
  ),
  severity: PolicySeverity,
  target: PolicyTarget,
  actions: actionList('Remediation to try, in order.'),
  guards: Guards,
  verification: Type.Optional(Verification),
  escalation: Type.Optional(Escalation),
  dryRun: Type.Boolean({ default: false, description: 'Record plans on the incidents and touch nothing.' }),
  public: Type.Optional(PolicyPublic),
});
export type RemediationPolicySpec = Static<typeof RemediationPolicySpec>;

export const RemediationPolicyStatus = Type.Object({
  observedGeneration: Type.Optional(Type.Integer({ format: 'int64' })),
  conditions: Type.Optional(conditions('Ready: the policy is valid and in use.')),
});

export const RemediationPolicy = Type.Object({
  apiVersion: Type.Optional(Type.String()),
  kind: Type.Optional(Type.String()),
  metadata: ObjectMeta,
  spec: RemediationPolicySpec,
  status: Type.Optional(RemediationPolicyStatus),
});
export type RemediationPolicy = Static<typeof RemediationPolicy>;

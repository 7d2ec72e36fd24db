// The parts of remediation shared by Incidents and RemediationPolicies: actions, verification and
// escalation levels.
import { Type, type Static } from 'typebox';
import { parseDuration } from './durations.ts';
import { duration, objectName, SecretKeyRef, stringEnum, withRules } from './schema.ts';

/**
 * Bounds on the durations tenants write. One HTTP check's request is held by the operator: at most
 * MAX_CHECK_TIMEOUT, which the install may lower (--max-check-timeout) but never raise. A check
 * interval below MIN_CHECK_INTERVAL would keep its incident's reconcile busy. The others become
 * deadlines on the status (a timer there, not in memory) or a queue job's deadline: generous limits
 * that refuse the absurd (500h).
 */
export const MAX_CHECK_TIMEOUT = '30s';
export const MIN_CHECK_INTERVAL = '1s';
const MAX_CHECK_INTERVAL = '1h';
/** Action, verification and hold deadlines. */
export const MAX_DEADLINE = '24h';
/** Escalation delays and cooldowns, which may sensibly span days. */
export const MAX_DELAY = '168h';

export const ACTION_TYPES = ['rolloutRestart', 'scale', 'queueDrain', 'queueReplay'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const RolloutRestartParams = Type.Object(
  {
    timeout: duration('How long the restarted rollout may take to complete before the attempt fails.', '5m', {
      max: MAX_DEADLINE,
    }),
  },
  { description: 'Parameters of rolloutRestart (all optional).' },
);

export const ScaleParams = withRules(
  Type.Object(
    {
      replicas: Type.Optional(
        Type.Integer({ minimum: 0, maximum: 1000, description: 'Scale to exactly this many replicas.' }),
      ),
      delta: Type.Optional(
        Type.Integer({
          minimum: -1000,
          maximum: 1000,
          description: 'Add (or, negative, remove) this many replicas.',
        }),
      ),
      min: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'Never scale below this.' })),
      max: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, description: 'Never scale above this.' })),
    },
    { description: 'Parameters of scale: exactly one of replicas or delta, within min and max.' },
  ),
  { rule: 'has(self.replicas) != has(self.delta)', message: 'give exactly one of replicas or delta' },
  {
    rule: '!has(self.min) || !has(self.max) || self.min <= self.max',
    message: 'min must not exceed max',
    fieldPath: '.min',
  },
);

/** A RabbitMQ connection Secret: its keys are fixed (docs/queue-drain.md), so only its name is given. */
export const ConnectionSecretRef = Type.Object(
  {
    name: objectName(
      'Name of the Secret, in the same namespace, with the keys amqp-url, management-url, username and password.',
    ),
  },
  { description: 'The Secret that says where the broker is and how to log in.' },
);

const vhost = () =>
  Type.String({ minLength: 1, maxLength: 255, default: '/', description: 'RabbitMQ virtual host.' });
const queueName = (description: string) => Type.String({ minLength: 1, maxLength: 255, description });

export const QUEUE_DRAIN_MODES = ['move', 'purge', 'waitForConsumers'] as const;

export const QueueDrainParams = withRules(
  Type.Object(
    {
      connectionSecretRef: ConnectionSecretRef,
      vhost: vhost(),
      queue: queueName('The queue to drain.'),
      mode: stringEnum(QUEUE_DRAIN_MODES, {
        default: 'move',
        description:
          'move: to parkingQueue with publisher confirms (nothing lost); purge: delete ready messages (destructive: needs allowPurge); waitForConsumers: wait for consumers to bring the backlog down, optionally after scaling them.',
      }),
      parkingQueue: Type.Optional(
        queueName(
          'Where move puts the messages (declared durable when absent); replay takes them from here.',
        ),
      ),
      threshold: Type.Integer({
        minimum: 0,
        maximum: 100_000_000,
        default: 0,
        description:
          'Ready messages at or below this count are no backlog: the attempt does nothing. waitForConsumers succeeds once the ready count is at or below it.',
      }),
      allowPurge: Type.Boolean({
        default: false,
        description: 'Must be true for mode purge, which deletes the ready messages for good.',
      }),
      scaleConsumers: Type.Optional({
        ...ScaleParams,
        description:
          "waitForConsumers only: first scale the incident's target (the consumer Deployment) by these parameters, within min and max.",
      }),
      timeout: duration('How long the drain may take.', '10m', { max: MAX_DEADLINE }),
    },
    { description: 'Parameters of queueDrain (RabbitMQ).' },
  ),
  {
    rule: "self.mode != 'move' || has(self.parkingQueue)",
    message: 'mode move needs a parkingQueue',
    fieldPath: '.parkingQueue',
  },
  {
    rule: '!has(self.parkingQueue) || self.parkingQueue != self.queue',
    message: 'parkingQueue must differ from queue',
    fieldPath: '.parkingQueue',
  },
  {
    rule: "self.mode != 'purge' || self.allowPurge",
    message: 'mode purge deletes the ready messages for good: set allowPurge: true to allow it',
    fieldPath: '.allowPurge',
  },
  {
    rule: "self.mode == 'waitForConsumers' || !has(self.scaleConsumers)",
    message: 'scaleConsumers is only for mode waitForConsumers',
    fieldPath: '.scaleConsumers',
  },
);
export type QueueDrainParams = Static<typeof QueueDrainParams>;

export const QueueReplayParams = withRules(
  Type.Object(
    {
      connectionSecretRef: ConnectionSecretRef,
      vhost: vhost(),
      parkingQueue: queueName('The parking queue to replay from.'),
      queue: Type.Optional(
        queueName(
          'Replay only the messages parked from this queue; the others stay parked. Default: every message goes back to the queue its x-selfheal-source-queue header names.',
        ),
      ),
      timeout: duration('How long the replay may take.', '10m', { max: MAX_DEADLINE }),
    },
    { description: 'Parameters of queueReplay: parked messages back to their source queue, at least once.' },
  ),
  {
    rule: '!has(self.queue) || self.queue != self.parkingQueue',
    message: 'queue must differ from parkingQueue',
    fieldPath: '.queue',
  },
);
export type QueueReplayParams = Static<typeof QueueReplayParams>;

export const Action = withRules(
  Type.Object(
    {
      type: stringEnum(ACTION_TYPES, {
        description: 'What to do: rolloutRestart, scale, queueDrain or queueReplay.',
      }),
      rolloutRestart: Type.Optional(RolloutRestartParams),
      scale: Type.Optional(ScaleParams),
      queueDrain: Type.Optional(QueueDrainParams),
      queueReplay: Type.Optional(QueueReplayParams),
    },
    { description: 'One remediation step; the parameters block named like its type.' },
  ),
  {
    rule: "self.type == 'scale' || !has(self.scale)",
    message: 'scale parameters given for another action type',
    fieldPath: '.scale',
  },
  {
    rule: "self.type != 'scale' || has(self.scale)",
    message: 'action scale needs its scale parameters',
    fieldPath: '.scale',
  },
  {
    rule: "self.type == 'queueDrain' || !has(self.queueDrain)",
    message: 'queueDrain parameters given for another action type',
    fieldPath: '.queueDrain',
  },
  {
    rule: "self.type != 'queueDrain' || has(self.queueDrain)",
    message: 'action queueDrain needs its queueDrain parameters',
    fieldPath: '.queueDrain',
  },
  {
    rule: "self.type == 'queueReplay' || !has(self.queueReplay)",
    message: 'queueReplay parameters given for another action type',
    fieldPath: '.queueReplay',
  },
  {
    rule: "self.type != 'queueReplay' || has(self.queueReplay)",
    message: 'action queueReplay needs its queueReplay parameters',
    fieldPath: '.queueReplay',
  },
  {
    rule: "self.type == 'rolloutRestart' || !has(self.rolloutRestart)",
    message: 'rolloutRestart parameters given for another action type',
    fieldPath: '.rolloutRestart',
  },
);
export type Action = Static<typeof Action>;

export const MAX_ACTIONS = 10;
export function actionList(description: string) {
  return Type.Array(Action, { minItems: 1, maxItems: MAX_ACTIONS, description });
}

/** JSON field paths: `status`, `checks.db.status`, `checks[0].state`. */
export const JSON_FIELD_PATH_PATTERN = '^[A-Za-z0-9_$-]+(\\.[A-Za-z0-9_$-]+|\\[[0-9]{1,4}\\])*$';

export const HttpCheck = withRules(
  Type.Object(
    {
      url: Type.Optional(
        Type.String({
          maxLength: 2048,
          pattern: '^https?://[^/@?#]+([/?#].*)?$',
          description: 'The endpoint to GET, http or https, without credentials.',
        }),
      ),
      service: Type.Optional(
        Type.Object(
          {
            name: Type.String({
              minLength: 1,
              maxLength: 63,
              pattern: '^[a-z]([-a-z0-9]*[a-z0-9])?$',
              description: "A Service in the incident's namespace.",
            }),
            port: Type.Integer({ minimum: 1, maximum: 65535, description: 'The Service port.' }),
            path: Type.String({
              maxLength: 1024,
              pattern: '^/',
              default: '/',
              description: 'The request path, such as /api/v1/health.',
            }),
            scheme: stringEnum(['http', 'https'] as const, { default: 'http' }),
          },
          { description: 'GET <scheme>://<name>.<namespace>.svc:<port><path>.' },
        ),
      ),
      expectedStatus: Type.Integer({
        minimum: 100,
        maximum: 599,
        default: 200,
        description: 'The HTTP status a healthy endpoint answers.',
      }),
      jsonPath: Type.Optional(
        Type.String({
          maxLength: 256,
          pattern: JSON_FIELD_PATH_PATTERN,
          description:
            'A field of the JSON body that must equal expectedValue, such as status or checks.db.status.',
        }),
      ),
      expectedValue: Type.Optional(
        Type.String({
          maxLength: 1024,
          description:
            'What the jsonPath field must be: a string field equal to it, or a number, boolean or null written the same way (true, 200).',
        }),
      ),
      interval: duration('How often the check runs while the incident is Verifying.', '10s', {
        min: MIN_CHECK_INTERVAL,
        max: MAX_CHECK_INTERVAL,
      }),
      timeout: duration(
        'How long one request may take; the installation may set a lower ceiling (--max-check-timeout).',
        '5s',
        { max: MAX_CHECK_TIMEOUT },
      ),
      holdFor: duration('How long the check must pass without a failure in between.', '1m', {
        max: MAX_DEADLINE,
      }),
    },
    { description: 'An HTTP health check that must pass for holdFor.' },
  ),
  {
    rule: 'has(self.url) != has(self.service)',
    message: 'give the endpoint exactly one way: url or service',
  },
  {
    rule: 'has(self.jsonPath) == has(self.expectedValue)',
    message: 'jsonPath and expectedValue go together',
    fieldPath: '.expectedValue',
  },
);
export type HttpCheck = Static<typeof HttpCheck>;

/** How often a check runs: its interval, never below the bound (objects stored before it existed). */
export function checkIntervalMs(check: Pick<HttpCheck, 'interval'>): number {
  return Math.max(parseDuration(check.interval), parseDuration(MIN_CHECK_INTERVAL));
}

export const Verification = Type.Object(
  {
    promQL: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description: 'A PromQL expression that must return a non-empty result (be true) for holdFor.',
      }),
    ),
    holdFor: duration('How long promQL must hold without a break.', '15m', { max: MAX_DEADLINE }),
    http: Type.Optional(HttpCheck),
    alertResolved: Type.Boolean({
      default: false,
      description: 'Also wait for the alert that raised the incident to resolve.',
    }),
    timeout: duration('How long verification may take after the action before it counts as failed.', '30m', {
      max: MAX_DEADLINE,
    }),
  },
  {
    description:
      'What proves the service recovered: every condition given must hold. A completed rollout is always required.',
  },
);
export type Verification = Static<typeof Verification>;

export const RECEIVER_TYPES = ['pagerduty', 'slack', 'webhook'] as const;

export type ReceiverType = (typeof RECEIVER_TYPES)[number];

/** Rules across a receiver's fields, as CEL for the API server and as JavaScript for the operator. */
const RECEIVER_RULES: {
  rule: string;
  holds: (receiver: { type: ReceiverType; purpose?: string; signingSecretKey?: string }) => boolean;
  message: string;
  field: string;
}[] = [
  {
    rule: "!has(self.purpose) || self.purpose != 'status' || self.type == 'slack'",
    holds: (r) => r.purpose !== 'status' || r.type === 'slack',
    message: 'a status receiver gets public updates in a Slack channel: purpose status needs type slack',
    field: 'purpose',
  },
  {
    rule: "self.type == 'webhook' || !has(self.signingSecretKey)",
    holds: (r) => r.type === 'webhook' || r.signingSecretKey === undefined,
    message: 'signingSecretKey is only for receivers of type webhook',
    field: 'signingSecretKey',
  },
];

export const Receiver = withRules(
  Type.Object(
    {
      name: Type.String({
        minLength: 1,
        maxLength: 63,
        pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
        description: 'Names the receiver in the status and the delivery ledger.',
      }),
      type: stringEnum(RECEIVER_TYPES, {
        description: 'pagerduty (Events API v2), slack (incoming webhook) or webhook (generic JSON POST).',
      }),
      secretRef: {
        ...SecretKeyRef,
        description:
          "The Secret key holding the credential: pagerduty, the integration's routing key; slack, the incoming-webhook URL; webhook, the URL to POST to.",
      },
      purpose: Type.Optional(
        stringEnum(['incident', 'status'] as const, {
          default: 'incident',
          description:
            "incident: paged and told everything (escalation, updates, resolution); status: a #service-status-style channel that gets only the incident's public updates, in the words people wrote for the status page, and is never paged (slack only).",
        }),
      ),
      signingSecretKey: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 253,
          pattern: '^[-._a-zA-Z0-9]+$',
          description:
            'webhook only: another key of the same Secret holding the HMAC-SHA256 signing secret; requests are then signed.',
        }),
      ),
    },
    { description: 'Someone to notify.' },
  ),
  ...RECEIVER_RULES.map(({ rule, message, field }) => ({ rule, message, fieldPath: `.${field}` })),
);
export type Receiver = Static<typeof Receiver>;

/**
 * The receiver rules the API server does not see: those of `--escalation-file`, which is read by
 * the operator itself. Each is the JavaScript twin of a CEL rule above.
 */
export function receiverRuleProblems(receiver: Receiver): { field: string; message: string }[] {
  return RECEIVER_RULES.filter(({ holds }) => !holds(receiver)).map(({ field, message }) => ({
    field,
    message,
  }));
}

export const EscalationLevel = Type.Object({
  after: duration(
    'How long after escalation begins this level is notified. The first level is always notified when escalation begins; a later level is also notified early when the response target passes unacknowledged.',
    undefined,
    { max: MAX_DELAY },
  ),
  receivers: Type.Array(Receiver, { minItems: 1, maxItems: 10 }),
});

export const Escalation = Type.Object(
  {
    levels: Type.Array(EscalationLevel, {
      minItems: 1,
      maxItems: 5,
      description: 'Notified in order, each after its delay.',
    }),
  },
  { description: 'Whom to notify, and when, once automation fails or is not allowed.' },
);
export type Escalation = Static<typeof Escalation>;

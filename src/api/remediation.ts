// The parts of remediation shared by Incidents and RemediationPolicies: actions, verification and
// escalation levels.
import { Type, type Static } from 'typebox';
import { duration, SecretKeyRef, stringEnum, withRules } from './schema.ts';

export const ACTION_TYPES = ['rolloutRestart', 'scale', 'queueDrain'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const RolloutRestartParams = Type.Object(
  {
    timeout: duration('How long the restarted rollout may take to complete before the attempt fails.', '5m'),
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

export const QUEUE_DRAIN_MODES = ['move', 'purge', 'waitForConsumers'] as const;

export const QueueDrainParams = withRules(
  Type.Object(
    {
      connectionSecretRef: SecretKeyRef,
      vhost: Type.String({
        minLength: 1,
        maxLength: 255,
        default: '/',
        description: 'RabbitMQ virtual host.',
      }),
      queue: Type.String({ minLength: 1, maxLength: 255, description: 'The queue to drain.' }),
      mode: stringEnum(QUEUE_DRAIN_MODES, {
        default: 'move',
        description:
          'move: to parkingQueue with publisher confirms (nothing lost); purge: delete ready messages (destructive, explicit opt-in); waitForConsumers: only wait for the backlog to fall.',
      }),
      parkingQueue: Type.Optional(
        Type.String({ minLength: 1, maxLength: 255, description: 'Where move puts the messages.' }),
      ),
      threshold: Type.Integer({
        minimum: 0,
        maximum: 100_000_000,
        default: 0,
        description: 'The drain succeeds once the queue depth is at or below this.',
      }),
      timeout: duration('How long the drain may take.', '10m'),
    },
    { description: 'Parameters of queueDrain.' },
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
);

export const Action = withRules(
  Type.Object(
    {
      type: stringEnum(ACTION_TYPES, { description: 'What to do: rolloutRestart, scale or queueDrain.' }),
      rolloutRestart: Type.Optional(RolloutRestartParams),
      scale: Type.Optional(ScaleParams),
      queueDrain: Type.Optional(QueueDrainParams),
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

export const Verification = Type.Object(
  {
    promQL: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 4096,
        description: 'A PromQL expression that must return a non-empty result (be true) for holdFor.',
      }),
    ),
    holdFor: duration('How long promQL must hold without a break.', '15m'),
    alertResolved: Type.Boolean({
      default: false,
      description: 'Also wait for the alert that raised the incident to resolve.',
    }),
    timeout: duration('How long verification may take after the action before it counts as failed.', '30m'),
  },
  { description: 'What proves the service recovered. A completed rollout is always required.' },
);
export type Verification = Static<typeof Verification>;

export const RECEIVER_TYPES = ['pagerduty', 'slack', 'webhook'] as const;

export type ReceiverType = (typeof RECEIVER_TYPES)[number];

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
  {
    rule: "self.type == 'webhook' || !has(self.signingSecretKey)",
    message: 'signingSecretKey is only for receivers of type webhook',
    fieldPath: '.signingSecretKey',
  },
);
export type Receiver = Static<typeof Receiver>;

export const EscalationLevel = Type.Object({
  after: duration('How long after escalation begins this level is notified (0s for at once).'),
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

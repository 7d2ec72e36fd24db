import { Type, type Static } from 'typebox';
import { SEVERITIES } from './group.ts';
import { IncidentPublic } from './public.ts';
import { actionList, ACTION_TYPES, Escalation, Verification } from './remediation.ts';
import {
  conditions,
  ObjectMeta,
  objectName,
  stringEnum,
  stringMap,
  timestamp,
  withRules,
  workloadRef,
} from './schema.ts';

export const SOURCE_TYPES = ['manual', 'alertmanager', 'prometheus'] as const;

export const IncidentSource = withRules(
  Type.Object(
    {
      type: stringEnum(SOURCE_TYPES, { default: 'manual', description: 'Who declared the incident.' }),
      alertName: Type.Optional(
        Type.String({ minLength: 1, maxLength: 253, description: 'The alert that raised it.' }),
      ),
      labels: Type.Optional(stringMap({ description: "The alert's labels." })),
      fingerprint: Type.Optional(
        Type.String({
          minLength: 1,
          maxLength: 64,
          pattern: '^[0-9a-f]+$',
          description: "The alert's fingerprint (hex).",
        }),
      ),
      startsAt: Type.Optional(timestamp('When the alert started firing.')),
      generatorURL: Type.Optional(
        Type.String({ maxLength: 2048, description: 'Link to the expression that fired.' }),
      ),
    },
    { description: 'Where the incident came from. Immutable.', default: { type: 'manual' } },
  ),
  { rule: 'self == oldSelf', message: 'source is immutable (fingerprint included)' },
  {
    rule: "self.type == 'manual' || has(self.alertName)",
    message: 'an alert source needs alertName',
    fieldPath: '.alertName',
  },
);

export const WorkloadTarget = withRules(
  workloadRef({
    description: 'The workload to remediate. Immutable.',
    name: "The workload's name; always in the incident's own namespace.",
  }),
  { rule: 'self == oldSelf', message: 'target is immutable' },
);

/** The playbook's incident roles; people assign them (`kubectl incident assign`) and hand them over. */
export const ROLE_FIELDS = ['incidentCommander', 'communicationsLead', 'technicalLead', 'scribe'] as const;
export type RoleField = (typeof ROLE_FIELDS)[number];

const person = (description: string) =>
  Type.Optional(Type.String({ minLength: 1, maxLength: 253, description }));

export const IncidentRoles = Type.Object(
  {
    incidentCommander: person('Leads the response and makes the decisions.'),
    communicationsLead: person('Keeps stakeholders informed at the update cadence.'),
    technicalLead: person('Leads the investigation and the fix.'),
    scribe: person('Keeps the record for the timeline and the post-mortem.'),
  },
  { description: "Who holds the playbook's roles. Roles can be handed over (changed) at any time." },
);
export type IncidentRoles = Static<typeof IncidentRoles>;

export const MAX_UPDATES = 100;
export const MAX_UPDATE_MESSAGE = 2048;
export const IncidentUpdate = Type.Object(
  {
    time: timestamp('When the update was posted.'),
    author: Type.String({ minLength: 1, maxLength: 253, description: 'Who posted it.' }),
    message: Type.String({
      minLength: 1,
      maxLength: MAX_UPDATE_MESSAGE,
      description: 'What people need to know now: impact, what is being done, the next step.',
    }),
  },
  { description: 'A status update a person posted.' },
);
export type IncidentUpdate = Static<typeof IncidentUpdate>;

export const IncidentSpec = withRules(
  Type.Object({
    severity: stringEnum(SEVERITIES, {
      description: 'P1 (critical outage) to P4 (no immediate user impact).',
    }),
    title: Type.String({ minLength: 1, maxLength: 200, description: 'One line that says what is wrong.' }),
    description: Type.Optional(Type.String({ maxLength: 4096 })),
    source: IncidentSource,
    target: Type.Optional(WorkloadTarget),
    actions: Type.Optional(actionList('Remediation to try, in order. Give this or policyRef, not both.')),
    policyRef: Type.Optional(
      Type.Object(
        { name: objectName('A RemediationPolicy in the same namespace.') },
        { description: 'Take actions, guards, verification and escalation from this policy.' },
      ),
    ),
    verification: Type.Optional(Verification),
    escalation: Type.Optional(Escalation),
    dryRun: Type.Boolean({
      default: false,
      description: 'Record the plan in status.plannedActions and touch nothing.',
    }),
    acknowledgedBy: Type.Optional(
      Type.String({ minLength: 1, maxLength: 253, description: 'Who took the incident. Set once.' }),
    ),
    resolution: Type.Optional(
      Type.Object(
        {
          resolvedBy: Type.String({ minLength: 1, maxLength: 253 }),
          note: Type.Optional(Type.String({ maxLength: 4096 })),
        },
        { description: 'Set by a person to resolve the incident. Set once.' },
      ),
    ),
    roles: Type.Optional(IncidentRoles),
    updates: Type.Optional(
      withRules(
        Type.Array(IncidentUpdate, {
          maxItems: MAX_UPDATES,
          description: `People's status updates, oldest first (at most ${MAX_UPDATES}). Append-only.`,
        }),
        {
          rule: 'size(self) >= size(oldSelf) && self.slice(0, size(oldSelf)) == oldSelf',
          message: 'updates are append-only: earlier updates can be neither changed nor removed',
        },
      ),
    ),
    postMortem: Type.Optional(
      withRules(
        Type.Object(
          {
            url: Type.Optional(
              Type.String({
                maxLength: 2048,
                pattern: '^https?://',
                description: 'Where the post-mortem is written.',
              }),
            ),
            completed: Type.Boolean({
              default: false,
              description: 'True once the post-mortem is done; closes the incident.',
            }),
          },
          { description: 'The post-mortem record.' },
        ),
        {
          rule: '!oldSelf.completed || self.completed',
          message: 'a completed post-mortem cannot be reopened',
          fieldPath: '.completed',
        },
      ),
    ),
    public: Type.Optional(IncidentPublic),
  }),
  {
    rule: '!(has(self.actions) && has(self.policyRef))',
    message: 'give either actions or policyRef, not both',
    fieldPath: '.policyRef',
  },
  {
    rule: '!has(oldSelf.acknowledgedBy) || (has(self.acknowledgedBy) && self.acknowledgedBy == oldSelf.acknowledgedBy)',
    message: 'acknowledgedBy is set once and can be neither changed nor removed',
    fieldPath: '.acknowledgedBy',
  },
  {
    rule: '!has(oldSelf.resolution) || (has(self.resolution) && self.resolution == oldSelf.resolution)',
    message: 'resolution is set once and can be neither changed nor removed',
    fieldPath: '.resolution',
  },
  {
    rule: '!has(oldSelf.postMortem) || has(self.postMortem)',
    message: 'postMortem cannot be removed',
    fieldPath: '.postMortem',
  },
  {
    rule: '!has(oldSelf.target) || has(self.target)',
    message: 'target cannot be removed',
    fieldPath: '.target',
  },
  {
    rule: '!has(oldSelf.public) || has(self.public)',
    message: 'public cannot be removed: what the status page said stays on the record',
    fieldPath: '.public',
  },
  {
    rule: '!has(oldSelf.updates) || has(self.updates)',
    message: 'updates are append-only: earlier updates can be neither changed nor removed',
    fieldPath: '.updates',
  },
);
export type IncidentSpec = Static<typeof IncidentSpec>;

export const PHASES = [
  'Open',
  'Remediating',
  'Verifying',
  'Escalated',
  'Acknowledged',
  'Resolved',
  'Closed',
] as const;
export type Phase = (typeof PHASES)[number];

export const CONDITION_TYPES = [
  'Remediated',
  'Verified',
  'Escalated',
  'Acknowledged',
  'ResponseSLABreached',
  'ResolutionSLABreached',
  'Resolved',
  'Held',
  'NotificationFailed',
  'StatusPageUpdateDue',
  'PostMortemOverdue',
] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export const ATTEMPT_RESULTS = ['Running', 'Succeeded', 'Failed', 'Refused'] as const;

/**
 * The delivery ledger's bound: every page, acknowledgement and resolution of the largest escalation
 * (5 levels of 10 receivers) fits, with room for the updates it keeps.
 */
export const MAX_NOTIFICATIONS = 256;

/** The attempts the status records; refused ones count too, so a new attempt beyond it is refused. */
export const MAX_ATTEMPTS = 32;

export const Attempt = Type.Object({
  id: Type.String({
    maxLength: 128,
    description: 'Unique per incident; carried by the side effect so it is never repeated.',
  }),
  action: stringEnum(ACTION_TYPES),
  actionIndex: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 9,
      description: "Which of the remediation's actions (0-based) the attempt runs.",
    }),
  ),
  startedAt: timestamp(
    'When the attempt was recorded, before it acted; a restart sets restartedAt to exactly this.',
  ),
  appliedAt: Type.Optional(timestamp('When its effect was seen on the target.')),
  done: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: 'For a queue action: messages handled so far (in steps of a tenth).',
    }),
  ),
  total: Type.Optional(
    Type.Integer({ minimum: 0, description: 'For a queue action: the backlog measured when it began.' }),
  ),
  targetReplicas: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 1000,
      description: 'For scale: the absolute count fixed when the intent was recorded.',
    }),
  ),
  finishedAt: Type.Optional(timestamp('When it ended.')),
  result: stringEnum(ATTEMPT_RESULTS),
  message: Type.Optional(Type.String({ maxLength: 1024 })),
});
export type Attempt = Static<typeof Attempt>;

export const MAX_TIMELINE = 50;
export const TimelineEntry = Type.Object({
  time: timestamp('When it happened.'),
  type: Type.String({
    maxLength: 64,
    description: 'What happened, CamelCase (PhaseChanged, AttemptStarted, ...).',
  }),
  message: Type.String({ maxLength: 1024 }),
});
export type TimelineEntry = Static<typeof TimelineEntry>;

/**
 * What a notification announces: a level reached (or the early heads-up), an acknowledgement, an
 * update (a reminder that one is due, or a person's update), the resolution.
 */
export const NOTIFICATION_EVENTS = ['trigger', 'acknowledge', 'update', 'resolve'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export const NOTIFICATION_STATES = ['Pending', 'Delivered', 'Failed'] as const;
export const Notification = Type.Object({
  id: Type.String({ maxLength: 128, description: 'Stable id: receiver, event and level.' }),
  receiver: Type.String({ maxLength: 63 }),
  event: stringEnum(NOTIFICATION_EVENTS),
  state: stringEnum(NOTIFICATION_STATES),
  attempts: Type.Integer({ minimum: 0 }),
  recordedAt: timestamp('When the notification was recorded, before it was sent.'),
  nextAttemptAt: Type.Optional(timestamp('When the next delivery try is due.')),
  deliveredAt: Type.Optional(timestamp('When the receiver accepted it.')),
  message: Type.Optional(Type.String({ maxLength: 1024 })),
});

/** The playbook's checklist, in the order people work through it. */
export const CHECKLIST_ITEMS = [
  'Acknowledged',
  'SeveritySet',
  'RolesAssigned',
  'StakeholdersNotified',
  'ServiceRestored',
  'PostMortemScheduled',
] as const;
export type ChecklistItemName = (typeof CHECKLIST_ITEMS)[number];

export const ChecklistItem = Type.Object({
  name: stringEnum(CHECKLIST_ITEMS, { description: 'Which step of the playbook.' }),
  done: Type.Boolean({ description: 'Whether the step is done.' }),
  detail: Type.Optional(
    Type.String({ maxLength: 256, description: 'Why it is (not) done: who, when, what is missing.' }),
  ),
});
export type ChecklistItem = Static<typeof ChecklistItem>;

export const MAX_CONTEXT_FACTS = 10;
export const MAX_CONTEXT_FACT_LENGTH = 256;
export const ContextFacts = Type.Array(Type.String({ minLength: 1, maxLength: MAX_CONTEXT_FACT_LENGTH }), {
  maxItems: MAX_CONTEXT_FACTS,
  description:
    'What on-call checks first, recorded when the incident opened: recent rollouts, replicas, warning Events.',
});

export const PlannedAction = Type.Object({
  action: stringEnum(ACTION_TYPES),
  description: Type.String({ maxLength: 1024 }),
});

export const IncidentStatus = Type.Object({
  phase: Type.Optional(stringEnum(PHASES)),
  observedGeneration: Type.Optional(Type.Integer({ format: 'int64' })),
  conditions: Type.Optional(
    conditions(
      'Remediated, Verified, Escalated, Acknowledged, ResponseSLABreached, ResolutionSLABreached, Resolved.',
    ),
  ),
  attempts: Type.Optional(Type.Array(Attempt, { maxItems: MAX_ATTEMPTS })),
  attemptCount: Type.Optional(
    Type.Integer({ minimum: 0, description: 'len(attempts), for the printer column.' }),
  ),
  timeline: Type.Optional(
    Type.Array(TimelineEntry, { maxItems: MAX_TIMELINE, description: `The last ${MAX_TIMELINE} events.` }),
  ),
  escalation: Type.Optional(
    Type.Object({
      level: Type.Integer({ minimum: 0, description: 'Escalation levels notified so far (0: none).' }),
      reason: Type.Optional(Type.String({ maxLength: 1024 })),
      startedAt: Type.Optional(timestamp('When escalation began.')),
      notifiedReceivers: Type.Optional(Type.Array(Type.String({ maxLength: 63 }), { maxItems: 50 })),
      nextEscalationAt: Type.Optional(timestamp('When the next level is due.')),
    }),
  ),
  notifications: Type.Optional(
    Type.Array(Notification, { maxItems: MAX_NOTIFICATIONS, description: 'The delivery ledger.' }),
  ),
  sla: Type.Optional(
    Type.Object({
      responseDueAt: Type.Optional(timestamp('Acknowledge (or fix) by then.')),
      resolutionDueAt: Type.Optional(timestamp('Resolve by then.')),
      nextUpdateDueAt: Type.Optional(timestamp('The next status update to stakeholders is due then.')),
    }),
  ),
  signal: Type.Optional(
    Type.Object({
      state: stringEnum(['Firing', 'Cleared'] as const),
      since: timestamp('When the alert last changed state.'),
      recurredAt: Type.Optional(timestamp('When the signal last came back after an automated fix.')),
    }),
  ),
  verification: Type.Optional(
    Type.Object({
      startedAt: timestamp('When verification of the last successful attempt began.'),
      passingSince: Type.Optional(timestamp('Since when the PromQL check has held without a break.')),
      httpPassingSince: Type.Optional(
        timestamp('Since when the HTTP health check has passed without a failure in between.'),
      ),
      message: Type.Optional(Type.String({ maxLength: 1024, description: 'Where verification stands.' })),
    }),
  ),
  postMortem: Type.Optional(
    Type.Object({
      required: Type.Boolean(),
      dueAt: Type.Optional(timestamp('Due then.')),
      draft: Type.Optional(
        Type.String({
          maxLength: 253,
          description: 'The ConfigMap (owned by the incident) holding a Markdown draft to start from.',
        }),
      ),
    }),
  ),
  recurrences: Type.Optional(
    Type.Integer({ minimum: 0, description: 'How often the signal came back after an automated fix.' }),
  ),
  openedAt: Type.Optional(timestamp('When the operator first saw the incident.')),
  resolvedAt: Type.Optional(timestamp('When it was resolved.')),
  following: Type.Optional(
    Type.Object(
      {
        incident: Type.String({ maxLength: 253, description: 'The incident acting on the same workload.' }),
        uid: Type.String({ maxLength: 64 }),
        attempt: Type.String({ maxLength: 128, description: 'Its attempt that claimed the workload.' }),
        since: timestamp('Since when this incident follows it.'),
      },
      {
        description:
          'Another incident holds the claim on the target workload: this one does not act, and ends with its outcome.',
      },
    ),
  ),
  plannedActions: Type.Optional(
    Type.Array(PlannedAction, { maxItems: 10, description: 'What a dry run would have done.' }),
  ),
  checklist: Type.Optional(
    Type.Array(ChecklistItem, {
      maxItems: CHECKLIST_ITEMS.length,
      description: "The playbook's checklist, computed from the incident: one item per step.",
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    }),
  ),
  context: Type.Optional(ContextFacts),
});
export type IncidentStatus = Static<typeof IncidentStatus>;

export const Incident = Type.Object({
  apiVersion: Type.Optional(Type.String()),
  kind: Type.Optional(Type.String()),
  metadata: ObjectMeta,
  spec: IncidentSpec,
  status: Type.Optional(IncidentStatus),
});
export type Incident = Static<typeof Incident>;

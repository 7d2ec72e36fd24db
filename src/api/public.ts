// The public side of an incident: what the status page says, written for people outside the team.
// Nothing else of an Incident (its title, target, alert, labels, status messages) ever reaches the
// page, so these are the only fields whose text is public. Shared by Incidents (spec.public) and
// RemediationPolicies (spec.public, the template an automated incident starts from).
import { Type, type Static } from 'typebox';
import { objectName, stringEnum, timestamp, withRules } from './schema.ts';

/** Statuspage's component statuses, mildest first: the page shows the worst that applies. */
export const IMPACTS = ['operational', 'degraded_performance', 'partial_outage', 'major_outage'] as const;
export type Impact = (typeof IMPACTS)[number];

/** Where an incident stands, in the words of Statuspage's incident lifecycle. */
export const PUBLIC_STATUSES = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export type PublicStatus = (typeof PUBLIC_STATUSES)[number];

export const MAX_PUBLIC_TITLE = 200;
export const MAX_PUBLIC_MESSAGE = 2000;
export const MAX_PUBLIC_UPDATES = 100;
export const MAX_AFFECTED_COMPONENTS = 20;

/** Public text: bounded, and never empty or only white space. */
export function publicText(maxLength: number, description: string) {
  return withRules(Type.String({ minLength: 1, maxLength, description }), {
    rule: "!self.matches('^\\\\s*$')",
    message: 'must not be blank',
  });
}

const impact = (description: string) => stringEnum(IMPACTS, { description });

const affectedComponents = (description: string) =>
  Type.Array(objectName('The name of a StatusComponent in the same namespace.'), {
    maxItems: MAX_AFFECTED_COMPONENTS,
    description,
    'x-kubernetes-list-type': 'set',
  });

export const PublicUpdate = Type.Object(
  {
    time: timestamp('When the update was posted.'),
    status: stringEnum(PUBLIC_STATUSES, {
      description: 'investigating, identified, monitoring or resolved.',
    }),
    message: publicText(MAX_PUBLIC_MESSAGE, 'What the public reads: plain language, no internal names.'),
  },
  { description: 'One public update.' },
);
export type PublicUpdate = Static<typeof PublicUpdate>;

export const IncidentPublic = Type.Object(
  {
    title: Type.Optional(
      publicText(MAX_PUBLIC_TITLE, 'The headline on the status page (default: the affected components).'),
    ),
    components: Type.Optional(
      affectedComponents(
        'The StatusComponents affected. Empty: those covering the target workload or the alert.',
      ),
    ),
    impact: Type.Optional(
      impact(
        'How badly the components are affected. Default from the severity: P1 major_outage, P2 partial_outage, P3 degraded_performance, P4 operational.',
      ),
    ),
    updates: withRules(
      Type.Array(PublicUpdate, {
        minItems: 1,
        maxItems: MAX_PUBLIC_UPDATES,
        description: 'The public updates, oldest first. Append-only.',
      }),
      {
        rule: 'self.size() >= oldSelf.size() && self.slice(0, oldSelf.size()) == oldSelf',
        message: 'public updates are append-only: earlier updates can be neither changed nor removed',
      },
      {
        rule: 'self.map(u, timestamp(u.time)).isSorted()',
        message: 'public updates must be in time order: append new ones after the last',
      },
    ),
  },
  { description: 'What the public status page says about this incident. It appears there once set.' },
);
export type IncidentPublic = Static<typeof IncidentPublic>;

export const PolicyPublic = Type.Object(
  {
    title: Type.Optional(publicText(MAX_PUBLIC_TITLE, 'The headline of every incident of this policy.')),
    components: Type.Optional(
      affectedComponents(
        'The StatusComponents affected. Empty: those covering the target workload or the alert.',
      ),
    ),
    impact: Type.Optional(impact('The impact (default from the severity, as on Incidents).')),
    message: publicText(
      MAX_PUBLIC_MESSAGE,
      'The first public update (status investigating), posted when the incident is raised.',
    ),
  },
  {
    description:
      'The plain-language template that gives every incident of this policy its public side from the start.',
  },
);
export type PolicyPublic = Static<typeof PolicyPublic>;

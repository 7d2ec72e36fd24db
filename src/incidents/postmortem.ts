// The post-mortem draft: when an incident that needs one is resolved, a ConfigMap owned by the
// incident (so it goes with it) holds a Markdown draft in the playbook's shape, filled in with what
// the status knows: summary, impact, timeline, what automation did and how it ended. People copy it
// to wherever they write post-mortems and record the URL (`kubectl incident postmortem --url`).
import { ApiException, type CoreV1Api } from '@kubernetes/client-node';
import { API_VERSION } from '../api/group.ts';
import type { Incident } from '../api/incident.ts';

export const DRAFT_KEY = 'postmortem.md';

const DRAFT_SUFFIX = '-postmortem';
const MAX_NAME = 253;

/**
 * `<incident>-postmortem`; a name too long for that is cut to fit (never ending in `-` or `.`, which
 * the API server refuses) and told apart by its uid, so two long names sharing their start get a
 * draft each.
 */
export function draftName(incident: Incident): string {
  const name = incident.metadata.name ?? 'incident';
  if (name.length + DRAFT_SUFFIX.length <= MAX_NAME) return `${name}${DRAFT_SUFFIX}`;
  const uid = (incident.metadata.uid ?? '').slice(0, 8);
  const head = name.slice(0, MAX_NAME - DRAFT_SUFFIX.length - uid.length - 1).replace(/[-.]+$/, '');
  return `${head}-${uid}${DRAFT_SUFFIX}`;
}

export function draftMarkdown(incident: Incident): string {
  const { metadata, spec, status = {} } = incident;
  const target = spec.target
    ? `${spec.target.kind} ${metadata.namespace ?? ''}/${spec.target.name}`
    : 'none named';
  const roles = Object.entries(spec.roles ?? {}).map(([role, who]) => `- ${role}: ${who}`);
  const attempts = (status.attempts ?? []).map(
    (a) => `- ${a.id} ${a.action}: ${a.result}${a.message ? ` (${a.message})` : ''}`,
  );
  const timeline = (status.timeline ?? []).map((t) => `- ${t.time} ${t.type}: ${t.message}`);
  const resolved = status.conditions?.find((c) => c.type === 'Resolved' && c.status === 'True');
  const lines = [
    `# Post-mortem: ${spec.title}`,
    '',
    `Incident \`${metadata.namespace ?? ''}/${metadata.name ?? ''}\`, ${spec.severity}. Draft written by selfheal; due ${status.postMortem?.dueAt ?? '(no due date)'}.`,
    '',
    '## Summary',
    '',
    spec.description ?? spec.title,
    '',
    '## Impact',
    '',
    `- Target: ${target}`,
    `- Opened: ${status.openedAt ?? ''}; resolved: ${status.resolvedAt ?? ''}`,
    `- Response target met: ${status.conditions?.some((c) => c.type === 'ResponseSLABreached' && c.status === 'True') ? 'no' : 'yes'}; resolution target met: ${status.conditions?.some((c) => c.type === 'ResolutionSLABreached' && c.status === 'True') ? 'no' : 'yes'}`,
    ...(spec.public?.impact ? [`- Public impact: ${spec.public.impact}`] : []),
    '',
    '## People',
    '',
    ...(roles.length ? roles : ['- (no roles were assigned)']),
    ...(spec.acknowledgedBy ? [`- acknowledged by: ${spec.acknowledgedBy}`] : []),
    '',
    '## Timeline',
    '',
    ...(timeline.length ? timeline : ['- (empty)']),
    '',
    '## What automation tried',
    '',
    ...(attempts.length ? attempts : ['- nothing: people handled it']),
    '',
    '## Resolution',
    '',
    resolved?.message ?? '(not resolved yet)',
    '',
    '## What went well',
    '',
    '- ',
    '',
    '## What went wrong',
    '',
    '- ',
    '',
    '## Root cause',
    '',
    '(to fill in)',
    '',
    '## Action items',
    '',
    '- [ ] ',
    '',
  ];
  return lines.join('\n');
}

export interface DraftWriter {
  /** Creates the draft ConfigMap once; an existing one is left as people may have edited it. */
  create(incident: Incident): Promise<string>;
}

export class KubeDraftWriter implements DraftWriter {
  private readonly core: CoreV1Api;

  constructor(core: CoreV1Api) {
    this.core = core;
  }

  async create(incident: Incident): Promise<string> {
    const name = draftName(incident);
    const namespace = incident.metadata.namespace ?? '';
    try {
      await this.core.createNamespacedConfigMap({
        namespace,
        body: {
          metadata: {
            name,
            namespace,
            labels: {
              'app.kubernetes.io/managed-by': 'selfheal',
              'selfheal.dev/incident': (incident.metadata.name ?? '')
                .slice(0, 63)
                .replace(/[^A-Za-z0-9]+$/, ''),
            },
            ownerReferences: [
              {
                apiVersion: API_VERSION,
                kind: 'Incident',
                name: incident.metadata.name ?? '',
                uid: incident.metadata.uid ?? '',
              },
            ],
          },
          data: { [DRAFT_KEY]: draftMarkdown(incident) },
        },
      });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 409)) throw error;
    }
    return name;
  }
}

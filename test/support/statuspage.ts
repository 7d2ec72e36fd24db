// Independent checks of the status page's machine-readable outputs: summary.json against a JSON
// Schema of Statuspage's /api/v2/summary.json (written from its public documentation, not from our
// types), and the Atom feed through feedparser in strict XML mode, as a feed reader would read it.
import { Readable } from 'node:stream';
import { Ajv } from 'ajv';
import ajvFormats from 'ajv-formats';
import FeedParser from 'feedparser';

const dateTime = { type: 'string', format: 'date-time' } as const;
const nullable = (schema: object) => ({ anyOf: [schema, { type: 'null' }] });
const componentStatus = {
  enum: ['operational', 'degraded_performance', 'partial_outage', 'major_outage', 'under_maintenance'],
};
const id = { type: 'string', minLength: 1 } as const;

const component = {
  type: 'object',
  required: [
    'id',
    'name',
    'status',
    'created_at',
    'updated_at',
    'position',
    'description',
    'showcase',
    'start_date',
    'group_id',
    'page_id',
    'group',
    'only_show_if_degraded',
  ],
  properties: {
    id,
    name: { type: 'string', minLength: 1 },
    status: componentStatus,
    created_at: dateTime,
    updated_at: dateTime,
    position: { type: 'integer', minimum: 1 },
    description: nullable({ type: 'string' }),
    showcase: { type: 'boolean' },
    start_date: nullable({ type: 'string', format: 'date' }),
    group_id: nullable(id),
    page_id: id,
    group: { type: 'boolean' },
    only_show_if_degraded: { type: 'boolean' },
  },
};

const incidentUpdate = {
  type: 'object',
  required: ['id', 'status', 'body', 'incident_id', 'created_at', 'updated_at', 'display_at'],
  properties: {
    id,
    status: { enum: ['investigating', 'identified', 'monitoring', 'resolved', 'postmortem'] },
    body: { type: 'string', minLength: 1 },
    incident_id: id,
    created_at: dateTime,
    updated_at: dateTime,
    display_at: dateTime,
    affected_components: nullable({
      type: 'array',
      items: {
        type: 'object',
        required: ['code', 'name', 'old_status', 'new_status'],
        properties: {
          code: id,
          name: { type: 'string' },
          old_status: componentStatus,
          new_status: componentStatus,
        },
      },
    }),
    deliver_notifications: { type: 'boolean' },
  },
};

const incident = {
  type: 'object',
  required: [
    'id',
    'name',
    'status',
    'created_at',
    'updated_at',
    'monitoring_at',
    'resolved_at',
    'impact',
    'shortlink',
    'started_at',
    'page_id',
    'incident_updates',
    'components',
  ],
  properties: {
    id,
    name: { type: 'string', minLength: 1 },
    status: { enum: ['investigating', 'identified', 'monitoring', 'resolved', 'postmortem'] },
    created_at: dateTime,
    updated_at: dateTime,
    monitoring_at: nullable(dateTime),
    resolved_at: nullable(dateTime),
    impact: { enum: ['none', 'minor', 'major', 'critical'] },
    shortlink: { type: 'string', format: 'uri' },
    started_at: dateTime,
    page_id: id,
    incident_updates: { type: 'array', minItems: 1, items: incidentUpdate },
    components: { type: 'array', items: component },
  },
};

export const SUMMARY_SCHEMA = {
  type: 'object',
  required: ['page', 'status', 'components', 'incidents', 'scheduled_maintenances'],
  properties: {
    page: {
      type: 'object',
      required: ['id', 'name', 'url', 'updated_at'],
      properties: {
        id,
        name: { type: 'string', minLength: 1 },
        url: { type: 'string', format: 'uri' },
        time_zone: { type: 'string' },
        updated_at: dateTime,
      },
    },
    status: {
      type: 'object',
      required: ['indicator', 'description'],
      properties: {
        indicator: { enum: ['none', 'minor', 'major', 'critical'] },
        description: { type: 'string', minLength: 1 },
      },
    },
    components: { type: 'array', items: component },
    incidents: { type: 'array', items: incident },
    scheduled_maintenances: { type: 'array' },
  },
} as const;

const ajv = new Ajv({ allErrors: true, strict: true });
// ajv-formats is CommonJS: its module object is the plugin, and carries it again as `default`.
ajvFormats.default(ajv);
const validate = ajv.compile(SUMMARY_SCHEMA);

/** The schema's complaints about a summary.json body (empty: valid). */
export function summaryErrors(body: unknown): string[] {
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

export interface ParsedFeed {
  meta: FeedParser.Meta;
  items: FeedParser.Item[];
}

/** The feed as feedparser reads it in strict XML mode; rejects on any XML or feed error. */
export async function parseFeed(xml: string): Promise<ParsedFeed> {
  const parser = new FeedParser({ strict: true, resume_saxerror: false, normalize: true });
  const items: FeedParser.Item[] = [];
  const done = new Promise<void>((resolve, reject) => {
    parser.on('error', reject);
    parser.on('end', resolve);
  });
  parser.on('readable', function (this: FeedParser) {
    for (let item = this.read(); item !== null; item = this.read()) items.push(item);
  });
  Readable.from([xml]).pipe(parser);
  await done;
  return { meta: parser.meta, items };
}

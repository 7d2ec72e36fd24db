// /api/v2/summary.json and /api/v2/status.json in the shape of Atlassian Statuspage's public API,
// which dashboards, chat bots and status aggregators already read. Only current incidents are in
// the summary, as there; the history is in the page and the Atom feed.
import type { Impact } from '../api/public.ts';
import type { PageInfo } from './html.ts';
import {
  opaqueId,
  OVERALL_LABELS,
  type PageComponent,
  type PageIncident,
  type StatusPageModel,
} from './model.ts';

/** Statuspage's indicator (and incident impact) for each of its component statuses. */
export const INDICATORS: Record<Impact, 'none' | 'minor' | 'major' | 'critical'> = {
  operational: 'none',
  degraded_performance: 'minor',
  partial_outage: 'major',
  major_outage: 'critical',
};

export interface SummaryPage {
  id: string;
  name: string;
  url: string;
  time_zone: string;
  updated_at: string;
}

export interface SummaryComponent {
  id: string;
  name: string;
  status: Impact;
  created_at: string;
  updated_at: string;
  position: number;
  description: string | null;
  showcase: boolean;
  start_date: null;
  group_id: null;
  page_id: string;
  group: boolean;
  only_show_if_degraded: boolean;
}

export interface SummaryIncidentUpdate {
  id: string;
  status: string;
  body: string;
  incident_id: string;
  created_at: string;
  updated_at: string;
  display_at: string;
  affected_components: null;
  deliver_notifications: boolean;
  custom_tweet: null;
  tweet_id: null;
}

export interface SummaryIncident {
  id: string;
  name: string;
  status: string;
  created_at: string;
  updated_at: string;
  monitoring_at: string | null;
  resolved_at: string | null;
  impact: (typeof INDICATORS)[Impact];
  shortlink: string;
  started_at: string;
  page_id: string;
  incident_updates: SummaryIncidentUpdate[];
  components: SummaryComponent[];
}

export interface StatusSummary {
  page: SummaryPage;
  status: { indicator: (typeof INDICATORS)[Impact]; description: string };
  components: SummaryComponent[];
  incidents: SummaryIncident[];
  scheduled_maintenances: never[];
}

export const pageId = (page: PageInfo) => opaqueId('StatusPage', '', page.title);

function summaryPage(model: StatusPageModel, page: PageInfo): SummaryPage {
  return {
    id: pageId(page),
    name: page.title,
    url: page.url,
    time_zone: 'Etc/UTC',
    updated_at: model.updatedAt,
  };
}

function component(c: PageComponent, page_id: string): SummaryComponent {
  return {
    id: c.id,
    name: c.name,
    status: c.status,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    position: c.position,
    description: c.description ?? null,
    showcase: true,
    start_date: null,
    group_id: null,
    page_id,
    group: false,
    only_show_if_degraded: false,
  };
}

function incident(
  i: PageIncident,
  components: Map<string, SummaryComponent>,
  page: PageInfo,
  page_id: string,
): SummaryIncident {
  const oldestFirst = [...i.updates].reverse();
  return {
    id: i.id,
    name: i.title,
    status: i.status,
    created_at: oldestFirst[0]?.time ?? i.startedAt,
    updated_at: i.updates[0]?.time ?? i.startedAt,
    monitoring_at: oldestFirst.find((u) => u.status === 'monitoring')?.time ?? null,
    resolved_at: i.resolvedAt ?? null,
    impact: INDICATORS[i.impact],
    shortlink: `${page.url}#incident-${i.id}`,
    started_at: i.startedAt,
    page_id,
    incident_updates: i.updates.map((u) => ({
      id: u.id,
      status: u.status,
      body: u.message,
      incident_id: i.id,
      created_at: u.time,
      updated_at: u.time,
      display_at: u.time,
      affected_components: null,
      deliver_notifications: false,
      custom_tweet: null,
      tweet_id: null,
    })),
    components: i.componentIds
      .map((id) => components.get(id))
      .filter((c): c is SummaryComponent => c !== undefined),
  };
}

export function renderStatus(model: StatusPageModel, page: PageInfo): Pick<StatusSummary, 'page' | 'status'> {
  return {
    page: summaryPage(model, page),
    status: { indicator: INDICATORS[model.overall], description: OVERALL_LABELS[model.overall] },
  };
}

export function renderSummary(model: StatusPageModel, page: PageInfo): StatusSummary {
  const page_id = pageId(page);
  const components = model.components.map((c) => component(c, page_id));
  const byId = new Map(components.map((c) => [c.id, c]));
  return {
    ...renderStatus(model, page),
    components,
    incidents: model.current.map((i) => incident(i, byId, page, page_id)),
    scheduled_maintenances: [],
  };
}

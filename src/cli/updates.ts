// `kubectl incident update`: a person's update (spec.updates) and a public one for the status page
// (spec.public.updates), appended in one JSON patch. Pure, so what it writes is tested without a cluster.
import type { Incident } from '../api/incident.ts';
import { MAX_UPDATES } from '../api/incident.ts';
import { MAX_PUBLIC_UPDATES, PUBLIC_STATUSES, type PublicStatus } from '../api/public.ts';
import type { JsonPatchOp } from './client.ts';
import { CliError, UsageError } from './errors.ts';

export function parsePublicStatus(text: string): PublicStatus {
  const status = text.toLowerCase();
  if (!(PUBLIC_STATUSES as readonly string[]).includes(status))
    throw new UsageError(`--status must be one of ${PUBLIC_STATUSES.join(', ')}, got "${text}"`);
  return status as PublicStatus;
}

export interface UpdateRequest {
  time: string;
  /** A person's update: who posted it and what it says. */
  internal?: { author: string; message: string };
  /** A public update; its status defaults to the last public update's, else investigating. */
  public?: { message: string; status?: PublicStatus };
}

export interface UpdateOps {
  ops: JsonPatchOp[];
  /** The position of the update in spec.updates after the patch (1-based), when one is posted. */
  internalCount?: number;
  publicCount?: number;
  publicStatus?: PublicStatus;
}

/**
 * The JSON patch that appends the request's updates to the incident as it was read. A list that
 * exists is appended to (`add .../-`, applied to the list as the API server holds it); a list, or a
 * public side, that does not exist yet is created. Creating, and any public update, carry the version
 * read as their precondition, so two people creating at once cannot overwrite each other and public
 * updates stay in time order; the caller reads again and retries on a conflict.
 */
export function updateOps(incident: Incident, request: UpdateRequest): UpdateOps {
  const name = incident.metadata.name ?? '';
  const ops: JsonPatchOp[] = [];
  let creates = false;
  const result: Omit<UpdateOps, 'ops'> = {};
  if (request.internal) {
    const updates = incident.spec.updates;
    const update = { time: request.time, ...request.internal };
    if ((updates?.length ?? 0) >= MAX_UPDATES)
      throw new CliError(
        `incident "${name}" holds ${updates?.length ?? 0} updates, the most it can`,
        'summarize in the post-mortem instead',
      );
    if (updates) ops.push({ op: 'add', path: '/spec/updates/-', value: update });
    else {
      ops.push({ op: 'add', path: '/spec/updates', value: [update] });
      creates = true;
    }
    result.internalCount = (updates?.length ?? 0) + 1;
  }
  if (request.public) {
    const side = incident.spec.public;
    const status = request.public.status ?? side?.updates.at(-1)?.status ?? 'investigating';
    const update = { time: request.time, status, message: request.public.message };
    if (side && side.updates.length >= MAX_PUBLIC_UPDATES)
      throw new CliError(
        `incident "${name}" holds ${side.updates.length} public updates, the most it can`,
        'the status page keeps them all; summarize the rest in the post-mortem',
      );
    if (side) ops.push({ op: 'add', path: '/spec/public/updates/-', value: update });
    else {
      ops.push({ op: 'add', path: '/spec/public', value: { updates: [update] } });
      creates = true;
    }
    result.publicCount = (side?.updates.length ?? 0) + 1;
    result.publicStatus = status;
  }
  // Public updates must also be in time order: a post that raced another is tried again, with a new
  // time, rather than landing behind a later one (which the API server would refuse).
  if (creates || request.public)
    ops.unshift({
      op: 'replace',
      path: '/metadata/resourceVersion',
      value: incident.metadata.resourceVersion,
    });
  return { ops, ...result };
}

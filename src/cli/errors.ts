// Errors that tell the person at the terminal what went wrong and what to do next.
import { ApiException } from '@kubernetes/client-node';
import { errorMessage } from '../telemetry/logger.ts';

/** An error for people: `message` says what is wrong, `hints` what to do next. Exit code 1. */
export class CliError extends Error {
  readonly hints: string[];

  constructor(message: string, ...hints: string[]) {
    super(message);
    this.hints = hints;
  }
}

/** The command line itself is wrong (unknown option, missing argument). Exit code 2. */
export class UsageError extends CliError {}

/** The incident to create exists already (a name given twice). Exit code 1. */
export class AlreadyExistsError extends CliError {}

export const RESOURCE = 'incidents.selfheal.dev';
/** What `kubectl incident replay` reads besides incidents: the incident's policy. */
export const POLICY_RESOURCE = 'remediationpolicies.selfheal.dev';

/** What the plugin was doing when the API server answered. */
export interface Operation {
  verb: 'get' | 'list' | 'patch' | 'create';
  namespace: string | undefined;
  name?: string;
  /** The API server's address, for "cannot reach" errors. */
  server: string;
  /** The resource read, when it is not an incident. */
  resource?: typeof POLICY_RESOURCE;
}

interface Status {
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string };
}

/** The Status object the API server answered with, as far as it can be read. */
export function statusOf(error: ApiException<unknown>): Status {
  const body = error.body;
  if (typeof body === 'object' && body !== null) return body;
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as Status;
    } catch {
      return { message: body.trim() };
    }
  }
  return {};
}

const where = (namespace: string | undefined) =>
  namespace ? `in namespace "${namespace}"` : 'in any namespace';
const nsFlag = (namespace: string | undefined) => (namespace ? `-n ${namespace}` : '-A');

/** The RBAC a refused user should ask for, as commands a cluster admin can run. */
function rbacHint(op: Operation, message: string): string[] {
  const user = /User "([^"]+)"/.exec(message)?.[1];
  const sa = user && /^system:serviceaccount:([^:]+):(.+)$/.exec(user);
  const subject = sa ? `--serviceaccount=${sa[1] ?? ''}:${sa[2] ?? ''}` : `--user=${user ?? '<you>'}`;
  const scope = op.namespace ? ` -n ${op.namespace}` : '';
  const kind = op.namespace ? 'role' : 'clusterrole';
  if (op.resource === POLICY_RESOURCE)
    return [
      `ask a cluster admin for "${op.verb}" on ${POLICY_RESOURCE} ${where(op.namespace)} (replay reads the queue move from the incident's policy), for example:`,
      `  kubectl create ${kind} policy-reader${scope} --verb=get --resource=${POLICY_RESOURCE}`,
      `  kubectl create ${kind}binding policy-reader${scope} --${kind}=policy-reader ${subject}`,
    ];
  return [
    `ask a cluster admin for "${op.verb}" on ${RESOURCE} ${where(op.namespace)}; responders need get, list, patch and create, for example:`,
    `  kubectl create ${kind} incident-responder${scope} --verb=get,list,patch,create --resource=${RESOURCE}`,
    `  kubectl create ${kind}binding incident-responder${scope} --${kind}=incident-responder ${subject}`,
  ];
}

/** Turns a failed API call into what the person needs to read. */
export function explainApiError(error: unknown, op: Operation): CliError {
  if (error instanceof CliError) return error;
  if (!(error instanceof ApiException)) {
    return new CliError(
      `cannot reach the API server at ${op.server}: ${errorMessage(error)}`,
      'check which cluster you are talking to: --context, --kubeconfig or KUBECONFIG (kubectl cluster-info)',
    );
  }
  const status = statusOf(error);
  const message = status.message ?? `HTTP ${error.code}`;
  switch (error.code) {
    case 401:
      return new CliError(
        'the API server did not accept your credentials (401 Unauthorized)',
        'log in again, or pick another user with --context or --kubeconfig',
      );
    case 403:
      return new CliError(`forbidden: ${message}`, ...rbacHint(op, message));
    case 404:
      if (op.name && status.reason === 'NotFound' && status.details?.name === op.name)
        return new CliError(
          `incident "${op.name}" not found ${where(op.namespace)}`,
          `list the incidents there with: kubectl incident list ${nsFlag(op.namespace)}`,
          'or in every namespace: kubectl incident list -A',
        );
      return new CliError(
        `the Incident API (${RESOURCE}/v1alpha1) is not installed in this cluster`,
        'install the CRDs: kubectl apply --server-side -f deploy/crds/',
      );
    case 409:
      if (status.reason === 'AlreadyExists')
        return new AlreadyExistsError(
          `incident "${op.name ?? status.details?.name ?? ''}" already exists ${where(op.namespace)}`,
          `see it with: kubectl incident show ${op.name ?? status.details?.name ?? ''} ${nsFlag(op.namespace)}`,
        );
      return new CliError(
        `incident "${op.name ?? ''}" changed while this command was changing it: ${message}`,
        'run the command again',
      );
    case 422:
      return new CliError(`the API server refused the change: ${message}`);
    default:
      return new CliError(`the API server answered ${error.code} to ${op.verb} ${RESOURCE}: ${message}`);
  }
}

import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { commandHelp, overview, runCli } from '../../src/cli/cli.ts';
import { COMMANDS, parseSeverity, parseTarget } from '../../src/cli/commands.ts';
import { explainApiError, type Operation } from '../../src/cli/errors.ts';
import { age, listTable, table } from '../../src/cli/render.ts';
import { incident, iso, MINUTE, T0 } from './fixtures.ts';

const op: Operation = {
  verb: 'patch',
  namespace: 'shop',
  name: 'checkout-down',
  server: 'https://127.0.0.1:6443',
};
const apiError = (code: number, body: unknown, headers: Record<string, string> = {}) =>
  new ApiException(code, `HTTP-Code: ${code}`, body, headers);
const explained = (error: unknown, operation: Operation = op) => {
  const e = explainApiError(error, operation);
  return [e.message, ...e.hints];
};

describe('API errors, in words that say what to do next', () => {
  it('a missing incident: how to list them', () => {
    const body = JSON.stringify({
      kind: 'Status',
      reason: 'NotFound',
      details: { name: 'checkout-down', group: 'selfheal.dev', kind: 'incidents' },
    });
    expect(explained(apiError(404, body))).toEqual([
      'incident "checkout-down" not found in namespace "shop"',
      'list the incidents there with: kubectl incident list -n shop',
      'or in every namespace: kubectl incident list -A',
    ]);
  });

  it('a 404 that is not about the incident: the API is not installed', () => {
    expect(explained(apiError(404, '404 page not found'), { ...op, verb: 'list' })).toEqual([
      'the Incident API (incidents.selfheal.dev/v1alpha1) is not installed in this cluster',
      'install the CRDs: kubectl apply --server-side -f deploy/crds/',
    ]);
  });

  it('forbidden: the verb, the resource, the namespace and the RBAC to ask for, for a user', () => {
    const message =
      'incidents.selfheal.dev "checkout-down" is forbidden: User "alice@example.com" cannot patch resource "incidents" in API group "selfheal.dev" in the namespace "shop"';
    expect(explained(apiError(403, { kind: 'Status', reason: 'Forbidden', message }))).toEqual([
      `forbidden: ${message}`,
      'ask a cluster admin for "patch" on incidents.selfheal.dev in namespace "shop"; responders need get, list, patch and create, for example:',
      '  kubectl create role incident-responder -n shop --verb=get,list,patch,create --resource=incidents.selfheal.dev',
      '  kubectl create rolebinding incident-responder -n shop --role=incident-responder --user=alice@example.com',
    ]);
  });

  it('forbidden across namespaces: a cluster role', () => {
    const message =
      'incidents.selfheal.dev is forbidden: User "system:serviceaccount:ops:bot" cannot list resource "incidents" in API group "selfheal.dev" at the cluster scope';
    expect(
      explained(apiError(403, JSON.stringify({ message })), {
        verb: 'list',
        namespace: undefined,
        server: '',
      }),
    ).toEqual([
      `forbidden: ${message}`,
      'ask a cluster admin for "list" on incidents.selfheal.dev in any namespace; responders need get, list, patch and create, for example:',
      '  kubectl create clusterrole incident-responder --verb=get,list,patch,create --resource=incidents.selfheal.dev',
      '  kubectl create clusterrolebinding incident-responder --clusterrole=incident-responder --serviceaccount=ops:bot',
    ]);
  });

  it.each([
    [
      401,
      {},
      [
        'the API server did not accept your credentials (401 Unauthorized)',
        'log in again, or pick another user with --context or --kubeconfig',
      ],
    ],
    [
      422,
      {
        message:
          'Incident.selfheal.dev "checkout-down" is invalid: spec.updates: Invalid value: updates are append-only',
      },
      [
        'the API server refused the change: Incident.selfheal.dev "checkout-down" is invalid: spec.updates: Invalid value: updates are append-only',
      ],
    ],
    [
      409,
      { message: 'the object has been modified' },
      [
        'incident "checkout-down" changed while this command was changing it: the object has been modified',
        'run the command again',
      ],
    ],
    [
      500,
      { message: 'etcdserver: request timed out' },
      ['the API server answered 500 to patch incidents.selfheal.dev: etcdserver: request timed out'],
    ],
  ])('%i', (code, body, expected) => {
    expect(explained(apiError(code, body))).toEqual(expected);
  });

  it('an API server out of reach: where it is, and how to pick another', () => {
    expect(
      explained(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' })),
    ).toEqual([
      'cannot reach the API server at https://127.0.0.1:6443: connect ECONNREFUSED 127.0.0.1:6443',
      'check which cluster you are talking to: --context, --kubeconfig or KUBECONFIG (kubectl cluster-info)',
    ]);
  });
});

describe('command line', () => {
  async function cli(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it.each<{ name: string; argv: string[]; code: number; err: string }>([
    {
      name: 'a missing NAME',
      argv: ['ack'],
      code: 2,
      err: 'error: ack needs NAME\nusage: kubectl incident ack NAME [options]\nlist the incidents with: kubectl incident list',
    },
    {
      name: 'an extra argument',
      argv: ['ack', 'a', 'b'],
      code: 2,
      err: 'error: unexpected argument "b"\nusage: kubectl incident ack NAME [options]',
    },
    {
      name: 'an unknown option',
      argv: ['ack', 'a', '--force'],
      code: 2,
      err: 'error: unknown option --force for ack\nsee: kubectl incident ack --help',
    },
    {
      name: 'an option without its value',
      argv: ['update', 'a', '--message'],
      code: 2,
      err: 'error: option --message needs a value (one that starts with "-" is written --message=-...)\nsee: kubectl incident update --help',
    },
    {
      name: 'update without a message',
      argv: ['update', 'a', '--by', 'me'],
      code: 2,
      err: 'error: --message is required: say what people need to know now',
    },
    {
      name: 'an over-long update',
      argv: ['update', 'a', `--message=${'x'.repeat(2049)}`, '--by', 'me'],
      code: 2,
      err: 'error: --message is 2049 characters; at most 2048 fit',
    },
    {
      name: 'assign without a role',
      argv: ['assign', 'a'],
      code: 2,
      err: 'error: give at least one role: --commander, --communications, --technical or --scribe',
    },
    {
      name: 'an empty role',
      argv: ['assign', 'a', '--scribe', ' '],
      code: 2,
      err: 'error: --scribe needs a name',
    },
    {
      name: 'postmortem with nothing',
      argv: ['postmortem', 'a'],
      code: 2,
      err: 'error: give --url URL, --completed, or both',
    },
    {
      name: 'a post-mortem URL that is not http(s)',
      argv: ['postmortem', 'a', '--url', 'wiki/pm/1'],
      code: 2,
      err: 'error: --url must be an http(s) URL, got "wiki/pm/1"',
    },
    {
      name: 'declare without severity',
      argv: ['declare', '--title', 't'],
      code: 2,
      err: 'error: --severity is required',
    },
    {
      name: 'declare without title',
      argv: ['declare', '--severity', 'P2'],
      code: 2,
      err: 'error: --title is required: one line that says what is wrong',
    },
    {
      name: 'an unknown command',
      argv: ['frob'],
      code: 2,
      err: 'error: unknown command "frob"\ncommands: list, show, ack, update, assign, resolve, postmortem, declare, replay',
    },
    {
      name: 'a kubeconfig that cannot be read',
      argv: ['list'],
      code: 1,
      err: "error: cannot read the kubeconfig /nonexistent/kubeconfig: ENOENT: no such file or directory, open '/nonexistent/kubeconfig'\ngive one with --kubeconfig FILE or KUBECONFIG",
    },
  ])('$name: exit $code', async ({ argv, code, err }) => {
    const result = await cli(...argv, '--kubeconfig', '/nonexistent/kubeconfig');
    expect({ code: result.code, err: result.err }).toEqual({ code, err });
  });

  it('prints the overview with --help, or on stderr with exit 2 without a command', async () => {
    expect(await cli('--help')).toEqual({ code: 0, out: overview(), err: '' });
    expect(await cli()).toEqual({ code: 2, out: '', err: overview() });
    for (const c of COMMANDS) expect(overview()).toContain(`  ${c.name.padEnd(12)} ${c.summary}`);
  });

  it("prints a command's help, with its options and examples", async () => {
    const update = COMMANDS.find((c) => c.name === 'update');
    if (!update) throw new Error('no update command');
    const help = commandHelp(update);
    expect((await cli('update', '--help')).out).toBe(help);
    expect(help).toContain('-m, --message TEXT');
    expect(help).toContain('--by WHO');
    expect(help).toContain('-n, --namespace NS');
  });
});

describe('parsing and rendering', () => {
  it.each([
    ['deployment/api', { kind: 'Deployment', name: 'api' }],
    ['deploy/api', { kind: 'Deployment', name: 'api' }],
    ['StatefulSet/db-0', { kind: 'StatefulSet', name: 'db-0' }],
    ['sts/db', { kind: 'StatefulSet', name: 'db' }],
    ['ds/agent', { kind: 'DaemonSet', name: 'agent' }],
  ])('target %s', (text, expected) => {
    expect(parseTarget(text)).toEqual(expected);
  });

  it.each(['api', 'cronjob/x', 'deployment/', 'deployment/API', 'deployment/a/b'])(
    'refuses target %s',
    (text) => {
      expect(() => parseTarget(text)).toThrow(/^--target must be KIND\/NAME/);
    },
  );

  it('takes severities in any case and refuses others', () => {
    expect(parseSeverity('p1')).toBe('P1');
    expect(() => parseSeverity('critical')).toThrow(
      '--severity must be one of P1, P2, P3, P4, got "critical"',
    );
  });

  it.each([
    [0, '0s'],
    [119_000, '119s'],
    [120_000, '2m'],
    [2 * 3600_000 - 1, '119m'],
    [2 * 3600_000, '2h'],
    [47 * 3600_000, '47h'],
    [3 * 86400_000, '3d'],
  ])('age after %i ms is %s', (ms, expected) => {
    expect(age(T0.toISOString(), new Date(T0.getTime() + ms))).toBe(expected);
  });

  it('aligns columns like kubectl', () => {
    expect(
      table([
        ['NAME', 'PHASE'],
        ['a-long-name', 'Open'],
      ]),
    ).toBe('NAME          PHASE\na-long-name   Open');
    const inc = incident({ spec: { acknowledgedBy: 'alice', roles: { incidentCommander: 'bob' } } });
    expect(
      listTable([inc], new Date(T0.getTime() + 5 * MINUTE), true)
        .split('\n')[1]
        ?.split(/\s{3,}/),
    ).toEqual([
      'shop',
      'checkout-errors',
      'P1',
      'Open',
      'deployment/checkout',
      'alice',
      'bob',
      '5m',
      'checkout returns 500s',
    ]);
    expect(iso(0)).toBe(T0.toISOString());
  });
});

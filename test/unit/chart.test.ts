import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  CHART_DIR,
  CHART_OWNED_FLAGS,
  chartCrdTemplates,
  chartSchema,
  helm,
  renderManifests,
} from '../../hack/chart.ts';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';
import { SETTINGS } from '../../src/config.ts';
import {
  find,
  only,
  operatorContainer,
  renderChart,
  renderError,
  type Deployment,
  type KubeObject,
} from '../support/chart.ts';

const ciFiles = readdirSync(join(CHART_DIR, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .sort();

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const rulesOf = (o: KubeObject) => (o as KubeObject & { rules: Rule[] }).rules;
const args = async (values: object) => operatorContainer(only(await renderChart(values), 'Deployment')).args;

describe('the chart over every ci/*-values.yaml', () => {
  it('has the files the tests name', () => {
    expect(ciFiles).toEqual([
      'default-values.yaml',
      'hardened-values.yaml',
      'manifests-values.yaml',
      'monitoring-values.yaml',
      'namespaced-values.yaml',
    ]);
  });

  it.each(ciFiles)('passes helm lint --strict with %s', async (file) => {
    const result = await helm(['lint', '--strict', CHART_DIR, '--values', join(CHART_DIR, 'ci', file)]);
    expect({ code: result.code, out: result.stdout + result.stderr }).toMatchObject({ code: 0 });
    expect(result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it.each(ciFiles)('renders with %s: a Deployment, its ServiceAccount and Service', async (file) => {
    const objects = await renderChart({}, { files: [join(CHART_DIR, 'ci', file)] });
    const deployment = only(objects, 'Deployment') as Deployment;
    const serviceAccount = only(objects, 'ServiceAccount');
    expect(serviceAccount.metadata.name).toBe(deployment.spec.template.spec.serviceAccountName);
    for (const o of [deployment, serviceAccount, only(objects, 'Service', 'selfheal')])
      expect(o.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'selfheal',
        'app.kubernetes.io/instance': 'selfheal',
        'app.kubernetes.io/managed-by': 'Helm',
      });
  });
});

describe('values.schema.json refuses what the chart does not know, naming it', () => {
  it.each<{ name: string; values: object; message: string }>([
    {
      name: 'a misspelled top-level key',
      values: { replicaCont: 3 },
      message: "at '': additional properties 'replicaCont' not allowed",
    },
    {
      name: 'a misspelled nested key',
      values: { serviceMonitor: { intervl: '1m' } },
      message: "at '/serviceMonitor': additional properties 'intervl' not allowed",
    },
    {
      name: 'a misspelled operator flag',
      values: { config: { 'storm-windw': '10m' } },
      message: "at '/config': additional properties 'storm-windw' not allowed",
    },
    {
      name: 'a flag the chart sets itself',
      values: { config: { 'lease-duration': '30s' } },
      message:
        "at '/config/lease-duration': value must be 'the chart sets --lease-duration: use leaderElection.leaseDuration'",
    },
    {
      name: 'a flag of the wrong type',
      values: { config: { workers: 'four' } },
      message: "at '/config/workers': got string, want integer",
    },
    {
      name: 'a duration that is none',
      values: { config: { 'storm-window': '10 minutes' } },
      message: "at '/config/storm-window': '10 minutes' does not match pattern",
    },
    {
      name: 'an alert the chart does not have',
      values: { prometheusRule: { disabled: { SelfhealDwn: true } } },
      message: "at '/prometheusRule/disabled': additional properties 'SelfhealDwn' not allowed",
    },
    {
      name: 'a namespace name that is none',
      values: { watchNamespaces: ['Shop'] },
      message: "at '/watchNamespaces/0': 'Shop' does not match pattern",
    },
    {
      name: 'a misspelled severity in the playbook',
      values: { playbook: { P5: { response: '1m' } } },
      message: "at '/playbook': additional properties 'P5' not allowed",
    },
    {
      name: 'a misspelled status page key',
      values: { statusPage: { enabled: true, titel: 'Acme status' } },
      message: "at '/statusPage': additional properties 'titel' not allowed",
    },
    {
      name: 'a status page URL without its scheme',
      values: { statusPage: { enabled: true, url: 'status.acme.example' } },
      message: "at '/statusPage/url': 'status.acme.example' does not match pattern",
    },
    {
      name: 'a blank status page title',
      values: { statusPage: { enabled: true, title: '   ' } },
      message: "at '/statusPage/title': '   ' does not match pattern",
    },
    {
      name: 'a misspelled securityContext field',
      values: { containerSecurityContext: { readOnlyRootFilesytem: true } },
      message: "at '/containerSecurityContext': additional properties 'readOnlyRootFilesytem' not allowed",
    },
  ])('$name', async ({ values, message }) => {
    expect(await renderError(values)).toContain(message);
  });

  it('covers every operator flag: settable through config, or set by the chart', async () => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as {
      properties: { config: { properties: Record<string, unknown> } };
    };
    expect(Object.keys(schema.properties.config.properties).sort()).toEqual(
      SETTINGS.map((s) => s.flag).sort(),
    );
    for (const flag of Object.keys(CHART_OWNED_FLAGS)) expect(SETTINGS.map((s) => s.flag)).toContain(flag);
    expect(await renderError({ config: { 'webhook-insecure': true } })).toContain(
      "value must be 'the chart sets --webhook-insecure: the chart always requires the token'",
    );
  });
});

describe('operator flags', () => {
  it('sets its own from named values', async () => {
    expect(await args({})).toEqual([
      '--namespace=selfheal-system',
      '--health-address=:8081',
      '--webhook-address=:8080',
      '--webhook-token-file=/var/run/selfheal/webhook/token',
      '--leader-elect=true',
      '--lease-duration=15s',
      '--renew-deadline=10s',
      '--retry-period=2s',
    ]);
    expect(
      await args({
        ports: { health: 9000, webhook: 9001 },
        leaderElection: { enabled: false, namespace: 'ops', leaseDuration: '30s' },
        watchNamespaces: ['shop', 'payments'],
        playbook: { P1: { response: '5m' } },
        webhook: { existingSecret: 'mine', existingSecretKey: 'bearer' },
      }),
    ).toEqual([
      '--namespace=ops',
      '--health-address=:9000',
      '--webhook-address=:9001',
      '--webhook-token-file=/var/run/selfheal/webhook/bearer',
      '--leader-elect=false',
      '--lease-duration=30s',
      '--renew-deadline=10s',
      '--retry-period=2s',
      '--watch-namespaces=shop,payments',
      '--playbook-file=/etc/selfheal/playbook/playbook.yaml',
    ]);
  });

  it('passes every other flag from config, numbers as written', async () => {
    const rendered = await args({
      config: {
        'storm-window': '10m',
        'webhook-max-body': 1048576,
        workers: 4,
        paused: true,
        'post-mortem-severities': 'P1,P2',
        'prometheus-url': 'http://prometheus.monitoring.svc:9090',
      },
    });
    expect(rendered.slice(8)).toEqual([
      '--paused=true',
      '--post-mortem-severities=P1,P2',
      '--prometheus-url=http://prometheus.monitoring.svc:9090',
      '--storm-window=10m',
      '--webhook-max-body=1048576',
      '--workers=4',
    ]);
  });

  it('mounts the playbook from a ConfigMap and rolls the pods when it changes', async () => {
    const render = (response: string) => renderChart({ playbook: { P1: { response } } });
    const [a, b] = [await render('5m'), await render('10m')];
    const configMap = only(a, 'ConfigMap', 'selfheal-playbook') as KubeObject & {
      data: Record<string, string>;
    };
    expect(configMap.data['playbook.yaml']).toBe('P1:\n  response: 5m\n');
    const checksum = (objects: KubeObject[]) =>
      (only(objects, 'Deployment') as Deployment).spec.template.metadata.annotations?.['checksum/playbook'];
    expect(checksum(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(a)).not.toBe(checksum(b));
    expect(find(await renderChart({}), 'ConfigMap')).toEqual([]);
  });

  it('refuses an unmatched-namespace outside watchNamespaces', async () => {
    expect(
      await renderError({ watchNamespaces: ['shop'], config: { 'unmatched-namespace': 'ops' } }),
    ).toContain(
      'config.unmatched-namespace "ops" must be one of watchNamespaces [shop]: the operator could not see the incidents it creates there',
    );
  });
});

describe('the status page', () => {
  const statusPageArgs = (objects: KubeObject[]) =>
    operatorContainer(only(objects, 'Deployment')).args.filter((a) => a.startsWith('--status-page-'));
  const containerPorts = (objects: KubeObject[]) =>
    (operatorContainer(only(objects, 'Deployment')).ports ?? []).map((p) => [p.name, p.containerPort]);

  it('is off by default: no flag, no port, no Service of its own', async () => {
    const objects = await renderChart({});
    expect(statusPageArgs(objects)).toEqual([]);
    expect(containerPorts(objects)).toEqual([
      ['webhook', 8080],
      ['metrics', 8081],
    ]);
    expect(find(objects, 'Service').map((s) => s.metadata.name)).toEqual(['selfheal']);
  });

  it('serves on a port and a Service of its own, with the address and the default title', async () => {
    const objects = await renderChart({ statusPage: { enabled: true } });
    expect(statusPageArgs(objects)).toEqual([
      '--status-page-address=:8082',
      '--status-page-title=Service status',
    ]);
    expect(containerPorts(objects)).toEqual([
      ['webhook', 8080],
      ['metrics', 8081],
      ['status-page', 8082],
    ]);
    expect(only(objects, 'Service', 'selfheal-status-page')).toMatchObject({
      metadata: { namespace: 'selfheal-system', labels: { 'app.kubernetes.io/instance': 'selfheal' } },
      spec: {
        type: 'ClusterIP',
        selector: { 'app.kubernetes.io/name': 'selfheal', 'app.kubernetes.io/instance': 'selfheal' },
        ports: [{ name: 'http', port: 80, targetPort: 'status-page', protocol: 'TCP' }],
      },
    });
    // The webhook and the metrics stay on the internal Service only.
    expect(
      (
        only(objects, 'Service', 'selfheal') as KubeObject & { spec: { ports: { name: string }[] } }
      ).spec.ports.map((p) => p.name),
    ).toEqual(['webhook', 'metrics']);
  });

  it('passes the title, URL and namespaces as written, and exposes its Service as asked', async () => {
    const objects = await renderChart({
      statusPage: {
        enabled: true,
        port: 9090,
        title: 'Acme: "status" & more',
        url: 'https://status.acme.example/#now',
        namespaces: ['shop', 'payments'],
        service: { type: 'LoadBalancer', port: 443, annotations: { 'example.com/public': 'true' } },
      },
    });
    expect(statusPageArgs(objects)).toEqual([
      '--status-page-address=:9090',
      '--status-page-title=Acme: "status" & more',
      '--status-page-url=https://status.acme.example/#now',
      '--status-page-namespaces=shop,payments',
    ]);
    expect(containerPorts(objects)).toContainEqual(['status-page', 9090]);
    expect(only(objects, 'Service', 'selfheal-status-page')).toMatchObject({
      metadata: { annotations: { 'example.com/public': 'true' } },
      spec: { type: 'LoadBalancer', ports: [{ port: 443, targetPort: 'status-page' }] },
    });
  });

  it.each<{ name: string; values: object; message: string }>([
    {
      name: 'its flags in config',
      values: { config: { 'status-page-address': ':8082' } },
      message:
        "value must be 'the chart sets --status-page-address: use statusPage.enabled and statusPage.port'",
    },
    {
      name: 'a port the webhook or the metrics use',
      values: { statusPage: { enabled: true, port: 8081 } },
      message:
        'statusPage.port 8081 is also in ports (webhook 8080, health 8081): the page needs a port of its own',
    },
    {
      name: 'a namespace the operator does not watch',
      values: { watchNamespaces: ['shop'], statusPage: { enabled: true, namespaces: ['shop', 'payments'] } },
      message:
        'statusPage.namespaces: "payments" must be one of watchNamespaces [shop]: the operator sees nothing elsewhere',
    },
  ])('refuses $name', async ({ values, message }) => {
    expect(await renderError(values)).toContain(message);
  });
});

describe('RBAC', () => {
  it('cluster-wide by default: one ClusterRole, bound to the ServiceAccount, and a Role for the Lease', async () => {
    const objects = await renderChart({ rbac: { aggregateClusterRoles: false } });
    const clusterRole = only(objects, 'ClusterRole', 'selfheal');
    expect(rulesOf(clusterRole)).toContainEqual({
      apiGroups: ['apps'],
      resources: ['deployments', 'statefulsets', 'daemonsets'],
      verbs: ['get', 'list', 'watch', 'patch'],
    });
    expect(only(objects, 'ClusterRoleBinding', 'selfheal')).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'selfheal' },
      subjects: [{ kind: 'ServiceAccount', name: 'selfheal', namespace: 'selfheal-system' }],
    });
    const lease = only(objects, 'Role', 'selfheal-own-namespace');
    expect(lease.metadata.namespace).toBe('selfheal-system');
    expect(rulesOf(lease)).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch'] },
    ]);
    expect(find(objects, 'Role')).toHaveLength(1);
  });

  it('namespaced: the same rules in a Role per watched namespace, and nothing cluster-wide', async () => {
    const cluster = rulesOf(only(await renderChart({}), 'ClusterRole', 'selfheal'));
    const objects = await renderChart({
      watchNamespaces: ['shop', 'payments'],
      rbac: { aggregateClusterRoles: false },
    });
    expect(find(objects, 'ClusterRole')).toEqual([]);
    expect(find(objects, 'ClusterRoleBinding')).toEqual([]);
    for (const namespace of ['shop', 'payments']) {
      const role = find(objects, 'Role', 'selfheal').find((r) => r.metadata.namespace === namespace);
      expect(role && rulesOf(role)).toEqual(cluster);
      const binding = find(objects, 'RoleBinding', 'selfheal').find(
        (r) => r.metadata.namespace === namespace,
      );
      expect(binding).toMatchObject({
        roleRef: { kind: 'Role', name: 'selfheal' },
        subjects: [{ kind: 'ServiceAccount', name: 'selfheal', namespace: 'selfheal-system' }],
      });
    }
  });

  it('aggregates read access to view and write access to edit and admin', async () => {
    const objects = await renderChart({});
    expect(only(objects, 'ClusterRole', 'selfheal-view').metadata.labels).toMatchObject({
      'rbac.authorization.k8s.io/aggregate-to-view': 'true',
    });
    expect(only(objects, 'ClusterRole', 'selfheal-edit').metadata.labels).not.toHaveProperty(
      'rbac.authorization.k8s.io/aggregate-to-view',
    );
  });

  it('leaves the Lease rule out without leader election, and everything out without rbac.create', async () => {
    const own = find(await renderChart({ leaderElection: { enabled: false } }), 'Role');
    // The pause switch is still watched in the operator's own namespace.
    expect(own.flatMap(rulesOf)).toEqual([
      { apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch'] },
    ]);
    const objects = await renderChart({ rbac: { create: false } });
    expect(objects.filter((o) => o.apiVersion.startsWith('rbac.authorization.k8s.io'))).toEqual([]);
  });
});

describe('CRDs', () => {
  it('are rendered with helm.sh/resource-policy: keep by default, without it when crds.keep is false', async () => {
    const kept = find(await renderChart({}), 'CustomResourceDefinition');
    expect(kept.map((c) => c.metadata.name).sort()).toEqual([
      'incidents.selfheal.dev',
      'remediationpolicies.selfheal.dev',
      'statuscomponents.selfheal.dev',
    ]);
    for (const crd of kept) expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
    for (const crd of find(await renderChart({ crds: { keep: false } }), 'CustomResourceDefinition'))
      expect(crd.metadata.annotations).toBeUndefined();
    expect(find(await renderChart({ crds: { enabled: false } }), 'CustomResourceDefinition')).toEqual([]);
  });
});

describe('the webhook token', () => {
  it('is generated into a Secret the Deployment mounts', async () => {
    const objects = await renderChart({});
    const secret = only(objects, 'Secret', 'selfheal-webhook-token') as KubeObject & {
      data: { token: string };
    };
    expect(Buffer.from(secret.data.token, 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
    const pod = (only(objects, 'Deployment') as Deployment).spec.template.spec;
    expect(pod.volumes).toContainEqual({
      name: 'webhook-token',
      secret: { secretName: 'selfheal-webhook-token', items: [{ key: 'token', path: 'token' }] },
    });
  });

  it('comes from existingSecret without a generated Secret', async () => {
    const objects = await renderChart({ webhook: { existingSecret: 'mine', existingSecretKey: 'bearer' } });
    expect(find(objects, 'Secret')).toEqual([]);
    expect((only(objects, 'Deployment') as Deployment).spec.template.spec.volumes).toContainEqual({
      name: 'webhook-token',
      secret: { secretName: 'mine', items: [{ key: 'bearer', path: 'bearer' }] },
    });
  });
});

describe('the Deployment', () => {
  it('runs two replicas, spread over nodes, restricted, with resources and probes', async () => {
    const objects = await renderChart({});
    const deployment = only(objects, 'Deployment') as Deployment;
    const pod = deployment.spec.template.spec;
    const container = operatorContainer(deployment);
    expect(deployment.spec.replicas).toBe(2);
    expect(pod.affinity).toMatchObject({
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { podAffinityTerm: { topologyKey: 'kubernetes.io/hostname' } },
        ],
      },
    });
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.resources).toEqual({
      requests: { cpu: '50m', memory: '128Mi' },
      limits: { memory: '512Mi' },
    });
    expect(container.livenessProbe).toMatchObject({ httpGet: { path: '/healthz', port: 'metrics' } });
    expect(container.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'metrics' } });
    expect(container.env).toContainEqual({
      name: 'POD_NAME',
      valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
    });
    // The egress policy refuses tenant URLs to the operator's own address, read from POD_IP.
    expect(container.env).toContainEqual({
      name: 'POD_IP',
      valueFrom: { fieldRef: { fieldPath: 'status.podIP' } },
    });
    expect(only(objects, 'PodDisruptionBudget')).toMatchObject({ spec: { maxUnavailable: 1 } });
  });

  it('takes hard anti-affinity, no anti-affinity, or an affinity of the user', async () => {
    const affinity = async (values: object) =>
      (only(await renderChart(values), 'Deployment') as Deployment).spec.template.spec.affinity;
    expect(await affinity({ podAntiAffinity: 'hard' })).toMatchObject({
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname' }],
      },
    });
    expect(await affinity({ podAntiAffinity: 'none' })).toBeUndefined();
    const mine = {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
    };
    expect(await affinity({ affinity: mine })).toEqual(mine);
  });

  it('pins the image by digest when one is given', async () => {
    const image = async (values: object) =>
      operatorContainer(only(await renderChart(values), 'Deployment')).image;
    expect(await image({})).toBe('ghcr.io/selfheal/selfheal:0.1.0');
    expect(await image({ image: { tag: '0.2.0' } })).toBe('ghcr.io/selfheal/selfheal:0.2.0');
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(await image({ image: { digest } })).toBe(`ghcr.io/selfheal/selfheal@${digest}`);
  });

  it('renders extraObjects, templated', async () => {
    const objects = await renderChart({
      extraObjects: [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '{{ .Release.Name }}-extra' } },
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-extra-string\n',
      ],
    });
    expect(find(objects, 'ConfigMap').map((c) => c.metadata.name)).toEqual([
      'selfheal-extra',
      'selfheal-extra-string',
    ]);
  });
});

describe('monitoring objects', () => {
  const kinds = (objects: KubeObject[]) =>
    objects.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com')).map((o) => o.kind);
  const all = {
    serviceMonitor: { enabled: true },
    prometheusRule: { enabled: true },
    alertmanagerConfig: { enabled: true },
  };

  it('are rendered only when the cluster serves monitoring.coreos.com, or when forced', async () => {
    expect(kinds(await renderChart(all))).toEqual([]);
    expect(
      kinds(
        await renderChart(all, {
          apiVersions: ['monitoring.coreos.com/v1', 'monitoring.coreos.com/v1alpha1'],
        }),
      ),
    ).toEqual(['AlertmanagerConfig', 'PrometheusRule', 'ServiceMonitor']);
    expect(kinds(await renderChart(all, { apiVersions: ['monitoring.coreos.com/v1'] }))).toEqual([
      'PrometheusRule',
      'ServiceMonitor',
    ]);
    expect(
      kinds(await renderChart({ serviceMonitor: { enabled: true, renderMode: 'alwaysRender' } })),
    ).toEqual(['ServiceMonitor']);
    expect(kinds(await renderChart({}, { apiVersions: ['monitoring.coreos.com/v1'] }))).toEqual([]);
  });

  it('fail the install with failIfMissing when the API is missing', async () => {
    expect(await renderError({ prometheusRule: { enabled: true, renderMode: 'failIfMissing' } })).toContain(
      'prometheusRule.enabled with renderMode failIfMissing, but the cluster does not serve monitoring.coreos.com/v1',
    );
  });

  it('scrape the metrics port of this release, alert on its series, route to its webhook', async () => {
    const objects = await renderChart(
      {
        serviceMonitor: { enabled: true, renderMode: 'alwaysRender', labels: { release: 'kps' } },
        prometheusRule: {
          enabled: true,
          renderMode: 'alwaysRender',
          additionalRuleLabels: { team: 'platform' },
          disabled: { SelfhealWebhookSlow: true },
        },
        alertmanagerConfig: { enabled: true, renderMode: 'alwaysRender' },
      },
      { release: 'ops', namespace: 'operators' },
    );
    expect(only(objects, 'ServiceMonitor')).toMatchObject({
      metadata: { name: 'ops-selfheal', labels: { release: 'kps' } },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/instance': 'ops' } },
        endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }],
      },
    });
    const rule = only(objects, 'PrometheusRule') as KubeObject & {
      spec: { groups: { rules: { alert: string; expr: string; labels: Record<string, string> }[] }[] };
    };
    const rules = rule.spec.groups[0]?.rules ?? [];
    expect(rules.map((r) => r.alert)).not.toContain('SelfhealWebhookSlow');
    for (const r of rules) {
      expect(r.expr).toContain('job="ops-selfheal",namespace="operators"');
      expect(r.expr).not.toContain('$selector');
      expect(r.labels.team).toBe('platform');
    }
    expect(only(objects, 'AlertmanagerConfig')).toMatchObject({
      spec: {
        receivers: [
          {
            webhookConfigs: [
              {
                url: 'http://ops-selfheal.operators.svc:8080/webhook/alertmanager',
                httpConfig: {
                  authorization: {
                    type: 'Bearer',
                    credentials: { name: 'ops-selfheal-webhook-token', key: 'token' },
                  },
                },
              },
            ],
          },
        ],
      },
    });
  });

  it('ships the dashboard as a ConfigMap with the Grafana sidecar label', async () => {
    const dashboard = only(
      await renderChart({ grafanaDashboard: { enabled: true } }),
      'ConfigMap',
    ) as KubeObject & {
      data: Record<string, string>;
    };
    expect(dashboard.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(JSON.parse(dashboard.data['selfheal.json'] ?? '')).toEqual(
      JSON.parse(readFileSync(join(CHART_DIR, 'monitoring', 'dashboard.json'), 'utf8')),
    );
  });
});

describe('generated files (run `npm run generate` after changing the chart, src/api or src/config.ts)', () => {
  const checkedIn = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

  it('the chart holds the CRDs of src/api', () => {
    for (const { path, text } of chartCrdTemplates())
      expect({ path, text: checkedIn(path) }).toEqual({ path, text });
  });

  it('values.schema.json holds the flags of src/config.ts and the alerts of the chart', async () => {
    const { path, text } = await chartSchema();
    expect({ path, text: checkedIn(path) }).toEqual({ path, text });
  });

  it('deploy/manifests and deploy/install.yaml are the chart rendered', async () => {
    const files = await renderManifests();
    expect(readdirSync(join(REPO_ROOT, 'deploy', 'manifests')).sort()).toEqual(
      files
        .filter((f) => f.path.startsWith('deploy/manifests/'))
        .map((f) => f.path.slice('deploy/manifests/'.length))
        .sort(),
    );
    for (const { path, text } of files) expect({ path, text: checkedIn(path) }).toEqual({ path, text });
  });
});

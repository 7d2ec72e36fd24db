import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHART_DIR, helm, helmTemplate, parseObjects } from '../../hack/chart.ts';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** Passed as `--api-versions`, as if the cluster served them. */
  apiVersions?: string[];
  /** Values files, e.g. the chart's ci/ files, before `values`. */
  files?: string[];
  /** Chart templates to render alone (`--show-only`). */
  showOnly?: string[];
}

let valueFiles = 0;
const valuesDir = mkdtempSync(join(tmpdir(), 'selfheal-values-'));

/** A values file holding `values` (JSON is YAML). */
export function valuesFile(values: object): string {
  const file = join(valuesDir, `values-${++valueFiles}.yaml`);
  writeFileSync(file, JSON.stringify(values));
  return file;
}

export function helmValueArgs(values: object, { files = [] }: Pick<RenderOptions, 'files'> = {}): string[] {
  return [...files, valuesFile(values)].flatMap((file) => ['--values', file]);
}

/** `helm template` of the chart with these values, as objects. */
export async function renderChart(values: object = {}, options: RenderOptions = {}): Promise<KubeObject[]> {
  const { release = 'selfheal', namespace = 'selfheal-system', apiVersions = [], showOnly = [] } = options;
  const yaml = await helmTemplate([
    release,
    CHART_DIR,
    '--namespace',
    namespace,
    ...helmValueArgs(values, options),
    ...apiVersions.flatMap((v) => ['--api-versions', v]),
    ...showOnly.flatMap((t) => ['--show-only', t]),
  ]);
  return parseObjects(yaml) as unknown as KubeObject[];
}

/** What `helm template` says when it refuses these values (stderr), or a failure when it accepts them. */
export async function renderError(values: object, options: RenderOptions = {}): Promise<string> {
  const result = await helm([
    'template',
    options.release ?? 'selfheal',
    CHART_DIR,
    '--namespace',
    options.namespace ?? 'selfheal-system',
    ...helmValueArgs(values, options),
  ]);
  if (result.code === 0) throw new Error(`helm template accepted ${JSON.stringify(values)}`);
  return result.stderr;
}

export function find(objects: KubeObject[], kind: string, name?: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

/** The one object of this kind (and name), or a failure naming what was rendered instead. */
export function only(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = find(objects, kind, name);
  if (found.length !== 1)
    throw new Error(
      `expected one ${kind}${name ? ` ${name}` : ''}, rendered ${found.length}: ${objects
        .map((o) => `${o.kind}/${o.metadata.name}`)
        .join(', ')}`,
    );
  return found[0] as KubeObject;
}

export interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  volumeMounts: { name: string; mountPath: string }[];
  ports?: { name: string; containerPort: number; protocol?: string }[];
  [field: string]: unknown;
}

export interface PodSpec {
  serviceAccountName: string;
  containers: Container[];
  volumes: {
    name: string;
    secret?: { secretName: string; items?: { key: string; path: string }[] };
    configMap?: { name: string };
  }[];
  [field: string]: unknown;
}

export interface Deployment extends KubeObject {
  spec: { replicas: number; template: { metadata: { annotations?: Record<string, string> }; spec: PodSpec } };
}

export function operatorContainer(deployment: KubeObject): Container {
  const container = (deployment as Deployment).spec.template.spec.containers[0];
  if (!container) throw new Error(`Deployment ${deployment.metadata.name} has no container`);
  return container;
}

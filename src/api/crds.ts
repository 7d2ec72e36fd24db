// The CustomResourceDefinitions, generated from the schemas in this folder. deploy/crds/*.yaml is
// written from here by `npm run generate` and checked in; a unit test fails when they drift apart.
import type { TSchema } from 'typebox';
import { Document, isScalar, visit } from 'yaml';
import { GROUP, VERSION } from './group.ts';
import { IncidentSpec, IncidentStatus } from './incident.ts';
import { RemediationPolicySpec, RemediationPolicyStatus } from './policy.ts';
import { StatusComponentSpec } from './statuscomponent.ts';

interface PrinterColumn {
  name: string;
  type: 'integer' | 'number' | 'string' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

interface CrdInput {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: TSchema;
  /** Kinds without a status have no status subresource. */
  status?: TSchema;
  columns: PrinterColumn[];
}

/** A TypeBox schema as plain OpenAPI v3 (TypeBox keeps its own markers in symbol keys). */
function openApi(schema: TSchema): unknown {
  return JSON.parse(JSON.stringify(schema)) as unknown;
}

function crd(input: CrdInput) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${input.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: input.kind,
        listKind: `${input.kind}List`,
        plural: input.plural,
        singular: input.singular,
        shortNames: input.shortNames,
        categories: ['selfheal'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          ...(input.status ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: input.columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: input.description,
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: openApi(input.spec),
                ...(input.status ? { status: openApi(input.status) } : {}),
              },
            },
          },
        },
      ],
    },
  };
}

export const incidentCrd = crd({
  kind: 'Incident',
  plural: 'incidents',
  singular: 'incident',
  shortNames: ['inc'],
  description:
    'An incident: something wrong with a workload, remediated, verified and escalated by selfheal.',
  spec: IncidentSpec,
  status: IncidentStatus,
  columns: [
    { name: 'Severity', type: 'string', jsonPath: '.spec.severity' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Target', type: 'string', jsonPath: '.spec.target.name' },
    { name: 'Attempts', type: 'integer', jsonPath: '.status.attemptCount' },
    {
      name: 'Escalation',
      type: 'integer',
      jsonPath: '.status.escalation.level',
      description: 'Escalation levels notified.',
    },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    { name: 'Title', type: 'string', jsonPath: '.spec.title', priority: 1 },
    { name: 'Source', type: 'string', jsonPath: '.spec.source.type', priority: 1 },
    { name: 'Alert', type: 'string', jsonPath: '.spec.source.alertName', priority: 1 },
    { name: 'Acknowledged-By', type: 'string', jsonPath: '.spec.acknowledgedBy', priority: 1 },
    { name: 'Commander', type: 'string', jsonPath: '.spec.roles.incidentCommander', priority: 1 },
  ],
});

export const remediationPolicyCrd = crd({
  kind: 'RemediationPolicy',
  plural: 'remediationpolicies',
  singular: 'remediationpolicy',
  shortNames: ['rpol'],
  description: 'Which alerts selfheal may act on in this namespace, what to do, and whom to page.',
  spec: RemediationPolicySpec,
  status: RemediationPolicyStatus,
  columns: [
    { name: 'Alert', type: 'string', jsonPath: '.spec.match.alertName' },
    { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
    {
      name: 'Reason',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
      priority: 1,
    },
    { name: 'Target-Kind', type: 'string', jsonPath: '.spec.target.kind' },
    { name: 'First-Action', type: 'string', jsonPath: '.spec.actions[0].type' },
    { name: 'Dry-Run', type: 'boolean', jsonPath: '.spec.dryRun' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ],
});

export const statusComponentCrd = crd({
  kind: 'StatusComponent',
  plural: 'statuscomponents',
  singular: 'statuscomponent',
  shortNames: ['stc'],
  description:
    'A part of the service as the public status page shows it, with the workloads and alerts it covers.',
  spec: StatusComponentSpec,
  columns: [
    { name: 'Display-Name', type: 'string', jsonPath: '.spec.displayName' },
    { name: 'Order', type: 'integer', jsonPath: '.spec.order' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    { name: 'Description', type: 'string', jsonPath: '.spec.description', priority: 1 },
  ],
});

export const CRDS = [incidentCrd, remediationPolicyCrd, statusComponentCrd];

/**
 * YAML that YAML 1.1 parsers (PyYAML, older Go and Ruby libraries) read as written too: besides the
 * words 1.1 takes for booleans (which `version: '1.1'` quotes), a plain `=` is 1.1's "value" tag.
 */
export function toPortableYaml(value: unknown): string {
  const doc = new Document(value, { version: '1.1' });
  visit(doc, {
    Scalar(_key, node) {
      if (isScalar(node) && node.value === '=') node.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString({ lineWidth: 0 });
}

/** The checked-in file name and content of each CRD. */
export function renderCrds(): { file: string; yaml: string }[] {
  return CRDS.map((c) => ({
    file: `${c.spec.group}_${c.spec.names.plural}.yaml`,
    yaml: `# Generated by \`npm run generate\` from src/api. Do not edit.\n${toPortableYaml(c)}`,
  }));
}

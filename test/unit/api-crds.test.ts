import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { CRDS, remediationPolicyCrd, renderCrds, toPortableYaml } from '../../src/api/crds.ts';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';

describe('deploy/crds', () => {
  const dir = join(REPO_ROOT, 'deploy', 'crds');

  it('holds exactly the CRDs generated from src/api (run `npm run generate` after changing the API)', () => {
    const generated = renderCrds();
    expect(readdirSync(dir).sort()).toEqual(generated.map((g) => g.file).sort());
    for (const { file, yaml } of generated) {
      expect({ file, yaml: readFileSync(join(dir, file), 'utf8') }).toEqual({ file, yaml });
    }
  });

  it.each(CRDS.map((crd) => [crd.metadata.name, crd] as const))(
    '%s reads back as written by a YAML 1.1 parser and a YAML 1.2 one',
    (_, crd) => {
      const file = renderCrds().find((r) => r.file === `${crd.spec.group}_${crd.spec.names.plural}.yaml`);
      expect(parse(file?.yaml ?? '', { version: '1.1' })).toEqual(JSON.parse(JSON.stringify(crd)));
      expect(parse(file?.yaml ?? '', { version: '1.2' })).toEqual(JSON.parse(JSON.stringify(crd)));
    },
  );

  it('gives RemediationPolicies a Ready column (and the reason with -o wide)', () => {
    const columns = remediationPolicyCrd.spec.versions[0]?.additionalPrinterColumns;
    expect(columns?.find((c) => c.name === 'Ready')).toEqual({
      name: 'Ready',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    });
    expect(columns?.find((c) => c.name === 'Reason')).toEqual({
      name: 'Reason',
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
      priority: 1,
    });
  });
});

describe('toPortableYaml', () => {
  it.each<[string, unknown, string]>([
    // YAML 1.1 reads a plain `=` as its "value" type: the label matcher operator must be quoted.
    ['a lone =', { operator: '=' }, 'operator: "="\n'],
    ['= in a list', { enum: ['=', '!=', '=~', '!~'] }, 'enum:\n  - "="\n  - "!="\n  - =~\n  - "!~"\n'],
    ['the word yes (a 1.1 boolean)', { value: 'yes' }, 'value: "yes"\n'],
    ['the word on (a 1.1 boolean)', { value: 'on' }, 'value: "on"\n'],
    ['the word n (a 1.1 boolean)', { value: 'n' }, 'value: "n"\n'],
    ['plain text stays plain', { description: 'The label name.' }, 'description: The label name.\n'],
    ['= inside text stays plain', { rule: 'a == b' }, 'rule: a == b\n'],
    ['a real boolean stays a boolean', { served: true }, 'served: true\n'],
  ])('writes %s', (_, value, yaml) => {
    expect(toPortableYaml(value)).toBe(yaml);
  });

  it.each(['=', 'yes', 'no', 'on', 'off', 'y', 'n', 'Y', 'NO', '1_000', '0777', '1:20', '~', '<<'])(
    'writes %j so that YAML 1.1 reads it back as that string',
    (text) => {
      expect(parse(toPortableYaml({ text }), { version: '1.1' })).toEqual({ text });
    },
  );
});

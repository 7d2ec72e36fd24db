// `npm run generate`: everything generated and checked in, in dependency order. The CRDs come from
// src/api; the chart's CRD templates and the `config` part of its values schema from src/api and
// src/config.ts; deploy/manifests/ and deploy/install.yaml from the chart. Unit tests fail when a
// checked-in file differs from what this writes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderCrds } from '../src/api/crds.ts';
import { chartCrdTemplates, chartSchema, renderManifests, type GeneratedFile } from './chart.ts';
import { REPO_ROOT } from './localenv/tools.ts';

function write({ path, text }: GeneratedFile): void {
  mkdirSync(dirname(join(REPO_ROOT, path)), { recursive: true });
  writeFileSync(join(REPO_ROOT, path), text);
  console.log(`wrote ${path}`);
}

for (const { file, yaml } of renderCrds()) write({ path: `deploy/crds/${file}`, text: yaml });
for (const file of chartCrdTemplates()) write(file);
write(await chartSchema());
for (const file of await renderManifests()) write(file);

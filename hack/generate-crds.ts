// Writes deploy/crds/*.yaml from src/api (npm run generate).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrds } from '../src/api/crds.ts';
import { REPO_ROOT } from './localenv/tools.ts';

const dir = join(REPO_ROOT, 'deploy', 'crds');
mkdirSync(dir, { recursive: true });
for (const { file, yaml } of renderCrds()) {
  writeFileSync(join(dir, file), yaml);
  console.log(`wrote deploy/crds/${file}`);
}

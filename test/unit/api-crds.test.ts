import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { renderCrds } from '../../src/api/crds.ts';
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
});

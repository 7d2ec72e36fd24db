import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../hack/localenv/tools.ts';

// The checked-in CRDs load in YAML 1.1 parsers too, as the same document: PyYAML (Debian's
// python3-yaml, installed by hack/setup.sh) is the one that once refused a plain `=`.
const dir = join(REPO_ROOT, 'deploy', 'crds');
const LOAD = 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))';

describe('deploy/crds in a YAML 1.1 parser', () => {
  it.each(readdirSync(dir).filter((f) => f.endsWith('.yaml')))(
    'PyYAML loads %s as the same document',
    (file) => {
      const path = join(dir, file);
      const viaPython: unknown = JSON.parse(
        execFileSync('/usr/bin/python3', ['-c', LOAD, path], { encoding: 'utf8' }),
      );
      expect(viaPython).toEqual(parse(readFileSync(path, 'utf8')));
    },
  );
});

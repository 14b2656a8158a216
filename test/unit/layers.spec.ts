import { spawnSync } from 'child_process';
import { join } from 'path';

const ROOT = join(__dirname, '..', '..');

/** Lints `code` as if it were the file `path`; returns the messages of failed rules. */
function lint(path: string, code: string): string {
  const res = spawnSync(process.execPath, [join(ROOT, 'node_modules/eslint/bin/eslint.js'), '--stdin', '--stdin-filename', path],
    { cwd: ROOT, input: code, encoding: 'utf8' });
  return res.stdout + res.stderr;
}

describe('layers (eslint.config.mjs)', () => {
  it('refuses an import that goes up a layer, or sideways between client and worker', () => {
    expect(lint('lib/client/x.ts', "import { PgflowWorker } from '../worker/pgflow.worker';\nexport const x = PgflowWorker;\n"))
      .toContain('lib/client may not import from worker');
    expect(lint('lib/core/errors/x.ts', "import { SQL } from '../../db/queries';\nexport const x = SQL;\n"))
      .toContain('lib/core may not import from db');
    expect(lint('lib/db/x.ts', "import { PgflowClient } from '../client';\nexport const x = PgflowClient;\n"))
      .toContain('lib/db may not import from');
    expect(lint('lib/cli/x.ts', "import { FlowBuilder } from '../client/flow.builder';\nexport const x = FlowBuilder;\n"))
      .toContain('lib/cli may not import from');
    expect(lint('lib/worker/x.ts', "import { PGFLOW_MIGRATIONS } from '../../migrations';\nexport const x = PGFLOW_MIGRATIONS;\n"))
      .toContain('import PGFLOW_MIGRATIONS from lib/db/pgflow-migrations');
  }, 30_000);

  it('accepts imports that go down', () => {
    const out = lint('lib/worker/x.ts',
      "import { PgflowDatabase } from '../db/pgflow.database';\nimport { slugProblem } from '../core/slug';\n" +
      'export const x = [PgflowDatabase, slugProblem];\n');
    expect(out).not.toContain('no-restricted-imports');
  }, 30_000);
});

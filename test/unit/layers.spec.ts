import { spawnSync } from 'child_process';
import { join } from 'path';

const ROOT = join(__dirname, '..', '..');

/**
 * Lints each `[path, code]` as if it were that file, with the repository's own
 * eslint.config.mjs, in one child process (the config is ESM; jest here is CommonJS);
 * returns the messages of failed rules per file.
 */
function lint(files: Array<[path: string, code: string]>): string[] {
  const script = `
    const { ESLint } = require('eslint');
    const files = JSON.parse(process.argv[1]);
    (async () => {
      const eslint = new ESLint({ cwd: ${JSON.stringify(ROOT)} });
      const out = [];
      for (const [filePath, code] of files) {
        const [result] = await eslint.lintText(code, { filePath });
        out.push(result.messages.map((m) => m.ruleId + ': ' + m.message).join('\\n'));
      }
      process.stdout.write(JSON.stringify(out));
    })().catch((err) => { console.error(err); process.exit(1); });`;
  const res = spawnSync(process.execPath, ['-e', script, JSON.stringify(files)], { cwd: ROOT, encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`eslint failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as string[];
}

describe('layers (eslint.config.mjs)', () => {
  it('refuses imports that go up a layer or sideways, accepts those that go down', () => {
    const [clientToWorker, coreToDb, dbToClient, cliToClient, migrations, down, clientToDashboard, dashboardToWorker,
      dashboardDown] = lint([
      ['lib/client/x.ts', "import { PgflowWorker } from '../worker/pgflow.worker';\nexport const x = PgflowWorker;\n"],
      ['lib/core/errors/x.ts', "import { SQL } from '../../db/queries';\nexport const x = SQL;\n"],
      ['lib/db/x.ts', "import { PgflowClient } from '../client';\nexport const x = PgflowClient;\n"],
      ['lib/cli/x.ts', "import { FlowBuilder } from '../client/flow.builder';\nexport const x = FlowBuilder;\n"],
      ['lib/worker/x.ts', "import { PGFLOW_MIGRATIONS } from '../../migrations';\nexport const x = PGFLOW_MIGRATIONS;\n"],
      ['lib/worker/y.ts', "import { PgflowDatabase } from '../db/pgflow.database';\nimport { slugProblem } from '../core/slug';\n" +
        'export const x = [PgflowDatabase, slugProblem];\n'],
      ['lib/client/y.ts', "import { PgflowDashboardModule } from '../dashboard';\nexport const x = PgflowDashboardModule;\n"],
      ['lib/dashboard/x.ts', "import { PgflowWorker } from '../worker/pgflow.worker';\nexport const x = PgflowWorker;\n"],
      ['lib/dashboard/y.ts', "import { PgflowClient } from '../client/pgflow.client';\nimport { listTasks } from '../db/queries';\n" +
        'export const x = [PgflowClient, listTasks];\n'],
    ]);
    expect(clientToWorker).toContain('lib/client may not import from worker');
    expect(coreToDb).toContain('lib/core may not import from db');
    expect(dbToClient).toContain('lib/db may not import from');
    expect(cliToClient).toContain('lib/cli may not import from');
    expect(migrations).toContain('import PGFLOW_MIGRATIONS from lib/db/pgflow-migrations');
    expect(down).toBe('');
    expect(clientToDashboard).toContain('lib/client may not import from');
    expect(dashboardToWorker).toContain('lib/dashboard may not import from');
    expect(dashboardDown).toBe('');
  }, 30_000);
});

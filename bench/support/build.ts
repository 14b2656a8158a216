import { spawnSync } from 'child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { dirname, join, relative } from 'path';
import * as ts from 'typescript';

const SKIP = new Set(['node_modules', 'results']);

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sources(path, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/**
 * Worker processes run plain compiled JavaScript: under ts-node each would carry the
 * TypeScript compiler (~55 MB RSS) and spend a second compiling at start, which
 * would distort W5 and slow every round. lib/, migrations/ and bench/ are
 * transpiled once (no type check: `npm run lint`/tsc do that) into a cache folder.
 */
export function buildForWorkers(root: string): string {
  const sql = spawnSync(process.execPath, [join(root, 'scripts', 'compile-sql.js')], { stdio: 'inherit' });
  if (sql.status !== 0) throw new Error('scripts/compile-sql.js failed');
  const outDir = join(root, 'node_modules', '.cache', 'nestjs-pgflow-bench');
  rmSync(outDir, { recursive: true, force: true });
  const parsed = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!parsed) throw new Error('cannot read tsconfig.json');
  const options: ts.CompilerOptions = { ...parsed.options, sourceMap: false, declaration: false };
  for (const dir of ['lib', 'migrations', 'bench']) {
    for (const file of sources(join(root, dir))) {
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file });
      const target = join(outDir, relative(root, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
  }
  return outDir;
}

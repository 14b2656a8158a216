import { spawnSync } from 'child_process';
import { existsSync } from 'fs';
import { join } from 'path';

/**
 * The peers live in bench/package.json (pinned, own lockfile) so that the library's
 * `npm ci` stays lean; the first `npm run bench` installs them.
 */
export function ensurePeersInstalled(benchDir: string): void {
  if (existsSync(join(benchDir, 'node_modules', '.package-lock.json'))) return;
  console.log('[bench] installing peer engines (npm --prefix bench ci) …');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['--prefix', benchDir, 'ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm --prefix bench ci failed (exit ${r.status ?? r.signal})`);
}

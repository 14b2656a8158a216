import { createRequire } from 'module';
import { join } from 'path';

/** bench/ (holds the peers' package.json); set by run.ts for the compiled workers. */
export const BENCH_DIR = process.env.BENCH_DIR ?? join(__dirname, '..');

const fromBench = createRequire(join(BENCH_DIR, 'package.json'));

/**
 * Loads a peer engine from bench/node_modules. Peers are typed by the small
 * interfaces in engines/*.types.ts (only what the bench calls), so the repository
 * type-checks without the bench's own install.
 */
export function loadPeer<T>(name: string): T {
  return fromBench(name) as T;
}

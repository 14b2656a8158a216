// Deterministic results of the fixture's flows, computed independently of the
// handlers so that tests can check every stored output. No side effects on import.

/** Elements of the `fanout` map step. */
export const FANOUT_WIDTH = 20;
/** Tasks per `fanout` run: seed + FANOUT_WIDTH squares + total. */
export const FANOUT_TASKS = FANOUT_WIDTH + 2;

export interface FanoutOutputs {
  seed: number[];
  square: number[];
  total: number;
}

export function fanoutOutputs(n: number): FanoutOutputs {
  const seed: number[] = [];
  for (let i = 0; i < FANOUT_WIDTH; i++) seed.push(n + i);
  const square = seed.map((x) => x * x);
  return { seed, square, total: square.reduce((a, b) => a + b, 0) };
}

/** `crashy` and `sleepy` map over the run input: hold x → 10x, nap x → 2x, then sum. */
export const crashySum = (xs: number[]): number => xs.reduce((a, x) => a + 10 * x, 0);
export const sleepySum = (xs: number[]): number => xs.reduce((a, x) => a + 2 * x, 0);
/** `stale.slow` returns 3n; `stale.after` adds one. */
export const staleValue = (n: number): number => 3 * n;

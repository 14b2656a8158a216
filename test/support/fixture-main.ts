/**
 * The entry point of a child fixture process: runs `main`, prints an error and exits 1
 * if it fails, and exits 2 as soon as the test runner that started it is gone (e.g.
 * jest itself was killed), so no fixture outlives the test that spawned it.
 */
export function runFixture(main: () => Promise<void>): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(2);
  }, 1000).unref();
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

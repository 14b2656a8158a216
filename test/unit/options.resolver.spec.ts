import { OPTION_DEFAULTS, resolvePgflowOptions } from '../../lib/core/options.resolver';
import { PgflowValidationError } from '../../lib/core/errors/pgflow.error';
import { PgflowModuleOptions } from '../../lib';

const dataSource = { type: 'postgres', url: 'postgres://localhost/x' } as const;
const resolve = (o: Partial<PgflowModuleOptions>) => resolvePgflowOptions({ dataSource, ...o } as PgflowModuleOptions);

describe('resolvePgflowOptions', () => {
  it('applies every documented default once', () => {
    const r = resolve({});
    expect(r).toMatchObject({
      migrationsRun: false, preparedStatements: true, retention: undefined,
      worker: { ...OPTION_DEFAULTS.worker, flows: undefined },
    });
    expect(r.worker.workerId).toMatch(/^.+-\d+-[0-9a-f]{6}$/);
    expect(resolve({ retention: { olderThanSeconds: 60 } }).retention).toEqual({ olderThanSeconds: 60, intervalMs: 60_000 });
  });

  it('keeps what was given', () => {
    const r = resolve({ worker: { workerId: 'w1', flows: ['a', 'b'], maxConcurrency: 4, shutdownTimeoutMs: 0, autoStart: false,
      leaseSeconds: 10 } });
    expect(r.worker).toMatchObject({ workerId: 'w1', flows: ['a', 'b'], maxConcurrency: 4, shutdownTimeoutMs: 0, autoStart: false,
      leaseSeconds: 10 });
    expect(resolve({}).worker.leaseSeconds).toBe(30);
  });

  it.each([
    // what was tried → the error naming the option
    [{ worker: { maxConcurrency: 0 } }, 'invalid option worker.maxConcurrency: must be an integer >= 1 (got 0)'],
    [{ worker: { batchSize: 2.5 } }, 'invalid option worker.batchSize: must be an integer >= 1 (got 2.5)'],
    [{ worker: { pollIntervalMs: -1 } }, 'invalid option worker.pollIntervalMs: must be an integer >= 1 (got -1)'],
    [{ worker: { heartbeatIntervalMs: '5000' } }, 'invalid option worker.heartbeatIntervalMs: must be an integer >= 1 (got "5000")'],
    [{ worker: { leaseSeconds: 1 } }, 'invalid option worker.leaseSeconds: must be an integer >= 2 (got 1)'],
    [{ worker: { leaseSeconds: '30' } }, 'invalid option worker.leaseSeconds: must be an integer >= 2 (got "30")'],
    [{ worker: { shutdownTimeoutMs: -5 } }, 'invalid option worker.shutdownTimeoutMs: must be an integer >= 0 (got -5)'],
    [{ worker: { enabled: 'yes' } }, 'invalid option worker.enabled: must be true or false (got "yes")'],
    [{ worker: { flows: 'orders' } }, 'invalid option worker.flows: must be an array of flow slugs (got "orders")'],
    [{ worker: { flows: ['my-flow'] } }, 'invalid option worker.flows: invalid slug "my-flow": must match ^[a-zA-Z_][a-zA-Z0-9_]*$'],
    [{ worker: { workerId: '' } }, 'invalid option worker.workerId: must be a non-empty string of at most 200 characters (got "")'],
    [{ worker: [] }, 'invalid option worker: must be an object (got an array)'],
    [{ migrationsRun: 1 }, 'invalid option migrationsRun: must be true or false (got 1)'],
    [{ preparedStatements: 'no' }, 'invalid option preparedStatements: must be true or false (got "no")'],
    [{ dataSource: undefined }, 'invalid option dataSource: must be a TypeORM DataSource or DataSourceOptions (got undefined)'],
    [{ retention: { olderThanSeconds: 0 } }, 'retention.olderThanSeconds must be a positive number of seconds (got 0)'],
  ])('refuses %j', (given, message) => {
    expect(() => resolve(given as Partial<PgflowModuleOptions>)).toThrow(new PgflowValidationError(message));
  });
});

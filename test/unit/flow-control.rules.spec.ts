import { buildFlowDefinition } from '../../lib/definitions/dag.compiler';
import { checkFlowControl } from '../../lib/definitions/flow-control.rules';
import { timeZoneProblem } from '../../lib/schedulers/cron.scheduler';

describe('flow control options', () => {
  it('accepts limits and returns them as stored', () => {
    expect(checkFlowControl({ concurrency: { limit: 2, key: 'tenant.id' }, rateLimit: { limit: 10, periodSeconds: 60 } }))
      .toEqual({ problems: [], limits: { concurrency: { limit: 2, key: 'tenant.id' },
        rateLimit: { limit: 10, periodSeconds: 60, key: undefined } } });
    expect(checkFlowControl({})).toEqual({ problems: [], limits: {} });
  });

  it.each([
    [{ concurrency: { limit: 0 } }, 'concurrency.limit must be an integer >= 1 (got 0)'],
    [{ concurrency: { limit: 1.5 } }, 'concurrency.limit must be an integer >= 1 (got 1.5)'],
    [{ concurrency: 3 }, 'concurrency must be an object (got 3)'],
    [{ concurrency: { limit: 1, max: 2 } }, 'concurrency has unknown option(s) max'],
    [{ concurrency: { limit: 1, key: 'a..b' } },
      'concurrency.key must be a dot path string into the run input such as "tenant.id" (got "a..b")'],
    [{ rateLimit: { limit: 5, periodSeconds: -1 } }, 'rateLimit.periodSeconds must be an integer >= 1 (got -1)'],
    [{ rateLimit: { limit: 5 } }, 'rateLimit.periodSeconds must be an integer >= 1 (got undefined)'],
    [{ rateLimit: { limit: 5, periodSeconds: 1, key: ['a'] } },
      'rateLimit.key must be a dot path string into the run input such as "tenant.id" (got ["a"])'],
  ])('refuses %j: %s', (opts, problem) => {
    expect(checkFlowControl(opts as never).problems).toEqual([problem]);
  });

  it('names the workflow, the step and the option in the definition error', () => {
    expect(() => buildFlowDefinition({ slug: 'f', concurrency: { limit: 0 } }, [{ slug: 'a' }]))
      .toThrow('workflow "f": concurrency.limit must be an integer >= 1 (got 0)');
    expect(() => buildFlowDefinition({ slug: 'f' }, [{ slug: 'a', rateLimit: { limit: 1, periodSeconds: 0 } }]))
      .toThrow('workflow "f" step "a": rateLimit.periodSeconds must be an integer >= 1 (got 0)');
  });

  it('knows IANA time zones for cronTimezone', () => {
    expect(timeZoneProblem(undefined)).toBeNull();
    expect(timeZoneProblem('Europe/Paris')).toBeNull();
    expect(timeZoneProblem('Europe/Atlantis')).toBe('cronTimezone "Europe/Atlantis" is not an IANA time zone name (such as "Europe/Paris")');
    expect(timeZoneProblem(1)).toBe('cronTimezone must be an IANA time zone name (got 1)');
  });
});

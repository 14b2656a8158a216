import { PgflowClient, PgflowDefinitionError, PgflowValidationError, Step, Workflow } from '../../lib';
import { useNestApps } from '../support/nest-harness';

@Workflow({ slug: 'cyclic' })
class CyclicFlow {
  @Step({ dependsOn: ['ship'] })
  pack() {}

  @Step({ dependsOn: ['pack'] })
  ship() {}
}

@Workflow({ slug: 'dangling' })
class DanglingFlow {
  @Step()
  fetch() {}

  @Step({ dependsOn: ['fetc'] })
  use() {}
}

@Workflow({ slug: 'twice' })
class DuplicateFlow {
  @Step({ slug: 'charge' })
  chargeCard() {}

  @Step({ slug: 'charge' })
  chargeAgain() {}
}

@Workflow({ slug: 'hollow' })
class EmptyFlow {
  notAStep() {}
}

@Workflow({ slug: 'bad_opts', maxAttempts: 0 })
class BadOptionsFlow {
  @Step({ timeout: 0 })
  a() {}
}

// Versions of one slug, as when a deployment changes a workflow's code; each test
// uses its own slug so that none depends on another's stored definition.
function ordersV1(slug: string) {
  @Workflow({ slug, maxAttempts: 3 })
  class OrdersV1 {
    @Step()
    reserve() {}

    @Step({ dependsOn: ['reserve'] })
    charge() {}

    @Step({ dependsOn: ['charge'] })
    ship() {}
  }
  return OrdersV1;
}

function ordersRewired(slug: string) {
  @Workflow({ slug })
  class OrdersRewired {
    @Step()
    reserve() {}

    @Step({ dependsOn: ['reserve'] })
    charge() {}

    @Step({ dependsOn: ['reserve'] }) // was: charge
    ship() {}
  }
  return OrdersRewired;
}

function ordersWithNewStep(slug: string) {
  @Workflow({ slug })
  class OrdersWithNewStep {
    @Step()
    reserve() {}

    @Step({ dependsOn: ['reserve'] })
    charge() {}

    @Step({ dependsOn: ['charge'] })
    ship() {}

    @Step({ dependsOn: ['ship'] })
    notify() {}
  }
  return OrdersWithNewStep;
}

function ordersRetuned(slug: string) {
  @Workflow({ slug, maxAttempts: 5, baseDelay: 2, timeout: 90 })
  class OrdersRetuned {
    @Step()
    reserve() {}

    @Step({ dependsOn: ['reserve'], timeout: 10, maxAttempts: 1 })
    charge() {
      return 'charged';
    }

    @Step({ dependsOn: ['charge'], whenExhausted: 'skip' })
    ship(input: { charge: string }) {
      return input.charge;
    }
  }
  return OrdersRetuned;
}

describe('boot-time definition errors', () => {
  const { createApp, closeApp, query } = useNestApps();

  async function bootError(providers: Array<new (...args: never[]) => unknown>): Promise<Error> {
    const err = await createApp({ providers }).then(() => undefined, (e: Error) => e);
    if (!err) throw new Error('expected init() to fail');
    expect(err).toBeInstanceOf(PgflowDefinitionError);
    return err;
  }


  it('names the workflow and lists the cycle', async () => {
    expect((await bootError([CyclicFlow])).message).toBe('workflow "cyclic": dependency cycle: pack -> ship -> pack');
  });

  it('names the step with an unknown dependency', async () => {
    expect((await bootError([DanglingFlow])).message).toBe('workflow "dangling" step "use": unknown dependency "fetc"');
  });

  it('names a duplicated step slug', async () => {
    expect((await bootError([DuplicateFlow])).message).toBe('workflow "twice" step "charge": duplicate step slug');
  });

  it('rejects a workflow without steps', async () => {
    expect((await bootError([EmptyFlow])).message).toBe('workflow "hollow": has no steps (decorate methods with @Step)');
  });

  it('rejects bad option values', async () => {
    expect((await bootError([BadOptionsFlow])).message)
      .toBe('workflow "bad_opts": maxAttempts must be an integer >= 1 (got 0)');
  });

  it('fails the boot on a bad module option, naming it, before it connects', async () => {
    // worker.maxConcurrency 0 used to make the poller's lane size NaN and spin at run time
    for (const [worker, message] of [
      [{ maxConcurrency: 0 }, 'invalid option worker.maxConcurrency: must be an integer >= 1 (got 0)'],
      [{ pollIntervalMs: 0 }, 'invalid option worker.pollIntervalMs: must be an integer >= 1 (got 0)'],
    ] as const) {
      const err = await createApp({ providers: [CyclicFlow], worker }).then(() => undefined, (e: Error) => e);
      expect(err).toBeInstanceOf(PgflowValidationError);
      expect(err?.message).toBe(message);
    }
  });

  it('stores nothing of a workflow that fails validation', async () => {
    await bootError([CyclicFlow]);
    expect(await query('select 1 from pgflow.flows where flow_slug = $1', ['cyclic'])).toEqual([]);
  });

  describe('changing an existing slug', () => {
    it('refuses a changed dependency, naming the step and suggesting a new slug', async () => {
      await closeApp(await createApp({ providers: [ordersV1('rewired')] }));
      const err = await bootError([ordersRewired('rewired')]);
      expect(err.message).toContain('step "rewired.ship": dependencies changed from [charge] to [reserve]');
      expect(err.message).toContain('use a new flow slug (e.g. "rewired_v2")');
      const deps = await query<{ dep_slug: string }>(
        `select dep_slug from pgflow.deps where flow_slug = 'rewired' and step_slug = 'ship'`);
      expect(deps).toEqual([{ dep_slug: 'charge' }]);
    });

    it('refuses an added step', async () => {
      await closeApp(await createApp({ providers: [ordersV1('grown')] }));
      const err = await bootError([ordersWithNewStep('grown')]);
      expect(err.message).toBe('workflow "grown": step "notify" was added; a flow\'s shape cannot change, ' +
        'use a new flow slug (e.g. "grown_v2")');
      expect(await query(`select 1 from pgflow.steps where flow_slug = 'grown' and step_slug = 'notify'`)).toEqual([]);
    });

    it('updates option-only changes in place and runs with them', async () => {
      await closeApp(await createApp({ providers: [ordersV1('retuned')] }));
      const Retuned = ordersRetuned('retuned');
      const app = await createApp({ providers: [Retuned] });
      expect(await query(`select opt_max_attempts, opt_base_delay, opt_timeout from pgflow.flows
        where flow_slug = 'retuned'`)).toEqual([{ opt_max_attempts: 5, opt_base_delay: 2, opt_timeout: 90 }]);
      expect(await query(`select step_slug, opt_max_attempts, opt_timeout, when_exhausted from pgflow.steps
        where flow_slug = 'retuned' order by step_index`)).toEqual([
        { step_slug: 'reserve', opt_max_attempts: null, opt_timeout: null, when_exhausted: 'fail' },
        { step_slug: 'charge', opt_max_attempts: 1, opt_timeout: 10, when_exhausted: 'fail' },
        { step_slug: 'ship', opt_max_attempts: null, opt_timeout: null, when_exhausted: 'skip' },
      ]);
      await expect(app.get(PgflowClient).execute(Retuned, {}, { timeoutMs: 10_000 }))
        .resolves.toEqual({ ship: 'charged' });
    });
  });
});

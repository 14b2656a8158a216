import { Injectable } from '@nestjs/common';
import { Step, Workflow } from '../../lib';

/** Counts handled units for the orchestrator (a no-op in the orchestrator itself). */
@Injectable()
export class HandledCounter {
  handled = 0;
}

/** W1/W4/W5: one no-op step. */
@Workflow({ slug: 'bench_single' })
export class SingleFlow {
  constructor(private readonly counter: HandledCounter) {}

  @Step()
  only(): null {
    this.counter.handled++;
    return null;
  }
}

/** W2: a 3-step chain (sequential form: steps run in declaration order). */
@Workflow({ slug: 'bench_chain' })
export class ChainFlow {
  @Step()
  one(): number {
    return 1;
  }

  @Step()
  two(input: { one: number }): number {
    return input.one + 1;
  }

  @Step()
  three(input: { two: number }): number {
    return input.two + 1;
  }
}

/** W3: map over the run input, then one step aggregating every element's output. */
@Workflow({ slug: 'bench_fanout' })
export class FanoutFlow {
  @Step({ map: 'run' })
  item(n: number): number {
    return n;
  }

  @Step({ dependsOn: ['item'] })
  total(input: { item: number[] }): number {
    return input.item.reduce((a, b) => a + b, 0);
  }
}

export const BENCH_FLOWS = [SingleFlow, ChainFlow, FanoutFlow];

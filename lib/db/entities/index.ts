import { DepEntity } from './dep.entity';
import { FlowEntity } from './flow.entity';
import { RunEntity } from './run.entity';
import { SignalEntity } from './signal.entity';
import { StepStateEntity } from './step-state.entity';
import { StepEntity } from './step.entity';
import { StepTaskEntity } from './step-task.entity';
import { WorkerEntity } from './worker.entity';

/** TypeORM entities of pgflow's tables; add them to your DataSource's `entities` to query them. */
export const PGFLOW_ENTITIES = [
  FlowEntity, StepEntity, DepEntity, RunEntity, StepStateEntity, StepTaskEntity, WorkerEntity, SignalEntity,
];

export { DepEntity, FlowEntity, RunEntity, SignalEntity, StepEntity, StepStateEntity, StepTaskEntity, WorkerEntity };

import { PgflowInit1732406400000 } from './1732406400000-pgflow-init';
import { PgflowHotPaths1796083200000 } from './1796083200000-pgflow-hot-paths';
import { PgflowSignals1796167643927 } from './1796167643927-pgflow-signals';
import { PgflowObservability1796170092607 } from './1796170092607-pgflow-observability';
import { PgflowWritePath1796190392761 } from './1796190392761-pgflow-write-path';
import { PgflowSubflows1796194132219 } from './1796194132219-pgflow-subflows';
import { PgflowFlowControl1796194686193 } from './1796194686193-pgflow-flow-control';
import { PgflowCompletePath1796212393054 } from './1796212393054-pgflow-complete-path';
import { PgflowClaimOrder1796216334479 } from './1796216334479-pgflow-claim-order';
import { PgflowPruneSetBased1796216356400 } from './1796216356400-pgflow-prune-set-based';

/** pgflow's TypeORM migrations, oldest first; add them to your DataSource's `migrations`. */
export const PGFLOW_MIGRATIONS = [PgflowInit1732406400000, PgflowHotPaths1796083200000, PgflowSignals1796167643927, PgflowObservability1796170092607, PgflowWritePath1796190392761, PgflowSubflows1796194132219, PgflowFlowControl1796194686193, PgflowCompletePath1796212393054, PgflowClaimOrder1796216334479, PgflowPruneSetBased1796216356400];

export { PgflowInit1732406400000, PgflowHotPaths1796083200000, PgflowSignals1796167643927, PgflowObservability1796170092607, PgflowWritePath1796190392761, PgflowSubflows1796194132219, PgflowFlowControl1796194686193, PgflowCompletePath1796212393054, PgflowClaimOrder1796216334479, PgflowPruneSetBased1796216356400 };

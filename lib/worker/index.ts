export { PgflowWorker } from './pgflow.worker';

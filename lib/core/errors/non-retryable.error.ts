import { PgflowError } from './pgflow.error';

/** Throw from a step handler to fail the task at once, without further attempts. */
export class NonRetryableError extends PgflowError {}

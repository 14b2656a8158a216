/** Base class of every error this library throws. */
export class PgflowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A workflow definition is invalid (slug, dependency, cycle, option, shape change). */
export class PgflowDefinitionError extends PgflowError {}

/** Input, output or an argument failed validation; nothing was written. */
export class PgflowValidationError extends PgflowError {
  constructor(
    message: string,
    /** Every violated constraint, as `property: message`. */
    readonly violations: string[] = [],
  ) {
    super(violations.length ? `${message}: ${violations.join('; ')}` : message);
  }
}

/** No flow with this slug (or class) is defined. */
export class PgflowUnknownFlowError extends PgflowError {
  constructor(readonly flowSlug: string) {
    super(`unknown flow "${flowSlug}"`);
  }
}

/** No run with this id exists. */
export class PgflowUnknownRunError extends PgflowError {
  constructor(readonly runId: string) {
    super(`unknown run ${runId}`);
  }
}

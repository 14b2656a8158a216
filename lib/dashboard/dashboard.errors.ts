import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { PgflowError, PgflowUnknownFlowError, PgflowUnknownRunError, PgflowValidationError } from '../core/errors/pgflow.error';
import { PgflowRunStateError } from '../core/errors/run-state.error';

/** A refusal of the dashboard itself (read-only, not JSON), answered with `status`. */
export class DashboardRefusal extends Error {
  constructor(
    /** The HTTP status: 403 or 415. */
    readonly status: number,
    /** The body's `error`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The HTTP status of an error the client raised. */
function statusOf(err: PgflowError): number {
  if (err instanceof PgflowUnknownRunError || err instanceof PgflowUnknownFlowError) return 404;
  if (err instanceof PgflowRunStateError) return 409;
  if (err instanceof PgflowValidationError) return 400;
  return 500;
}

/** Answers the dashboard's API errors as `{ error: <name>, message }` (400/403/404/409/415). */
@Catch()
export class DashboardErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('PgflowDashboard');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(err: unknown, host: ArgumentsHost): void {
    const response: unknown = host.switchToHttp().getResponse();
    let status = 500;
    let body = { error: 'InternalServerError', message: 'internal error' };
    if (err instanceof PgflowError) {
      status = statusOf(err);
      body = { error: err.name, message: err.message };
    } else if (err instanceof DashboardRefusal) {
      status = err.status;
      body = { error: err.code, message: err.message };
    } else if (err instanceof HttpException) {
      status = err.getStatus();
      body = { error: err.name, message: err.message };
    }
    if (status === 500) this.logger.error(err instanceof Error ? err.stack ?? err.message : String(err));
    this.adapterHost.httpAdapter.reply(response, body, status);
  }
}

/** The command line cannot be acted on: unknown command or flag, missing argument, no URL (exit code 2). */
export class CliUsageError extends Error {
  constructor(
    message: string,
    /** The command the line names, when known: the hint shows its usage. */
    readonly command?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The database could not be reached or refused the connection (exit code 1). */
export class CliConnectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Exit codes: 0 success, 1 refused (by pgflow or the server), 2 usage error. */
export const EXIT = { ok: 0, refused: 1, usage: 2 } as const;

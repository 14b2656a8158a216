/**
 * Inputs of the runs this worker claimed tasks of most recently. A run's input never
 * changes, and every task of a map step over a large input would otherwise carry the
 * whole input again: `start_tasks` leaves `run_input` out for the runs named here.
 */
export class RunInputCache {
  private readonly inputs = new Map<string, unknown>();

  constructor(private readonly capacity = 8) {}

  /** What the next claim can leave out; resolve that claim's rows against this. */
  snapshot(): ReadonlyMap<string, unknown> {
    return new Map(this.inputs);
  }

  remember(runId: string, input: unknown): void {
    this.inputs.delete(runId);
    this.inputs.set(runId, input);
    if (this.inputs.size > this.capacity) this.inputs.delete(this.inputs.keys().next().value as string);
  }
}

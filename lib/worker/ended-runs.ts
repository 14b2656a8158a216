/** How long a cancel or failure is remembered; a claim's round trip is far shorter. */
const MEMORY_MS = 10_000;

/**
 * Runs this process heard end (cancelled or failed) in the last few seconds. A claim
 * answered just before the NOTIFY arrived still hands over tasks of such a run; the
 * worker checks the run before running handlers whose results would be ignored.
 * A resumed run (retryRun) is forgotten as soon as its NOTIFY arrives.
 */
export class EndedRuns {
  private readonly endedAt = new Map<string, number>();

  markEnded(runId: string): void {
    const now = Date.now();
    for (const [id, at] of this.endedAt) {
      if (now - at > MEMORY_MS) this.endedAt.delete(id);
    }
    this.endedAt.set(runId, now);
  }

  markResumed(runId: string): void {
    this.endedAt.delete(runId);
  }

  has(runId: string): boolean {
    const at = this.endedAt.get(runId);
    return at !== undefined && Date.now() - at <= MEMORY_MS;
  }
}

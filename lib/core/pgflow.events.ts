import { Injectable } from '@nestjs/common';
import { Observable, Subject } from 'rxjs';

/** A task event of this process's worker; `attempt` is the attempt it is about. */
export interface PgflowTaskEvent {
  type: 'task.started' | 'task.completed' | 'task.failed' | 'task.retrying';
  runId: string;
  flowSlug: string;
  stepSlug: string;
  taskIndex: number;
  /** 1-based (`ctx.attempt`); on `task.retrying` the attempt that failed. */
  attempt: number;
  /** How long the handler ran; set on completed, failed and retrying. */
  durationMs?: number;
  /** The error message; set on failed and retrying. */
  error?: string;
}

/** A run ended by this process: its worker's result completed or failed it, or its client cancelled it. */
export interface PgflowRunEndEvent {
  type: 'run.completed' | 'run.failed' | 'run.cancelled';
  runId: string;
  flowSlug: string;
}

/** What `PgflowEvents.events$` emits. */
export type PgflowEvent = PgflowTaskEvent | PgflowRunEndEvent;

/**
 * This process's workflow events, for metrics, alerts and audit logs. Events are
 * emitted synchronously where they happen; a subscriber that throws is isolated
 * by rxjs and does not disturb the worker.
 */
@Injectable()
export class PgflowEvents {
  private readonly subject = new Subject<PgflowEvent>();
  // counted here: Subject.observed exists only from rxjs 7.2, the peer range starts at 7.1
  private subscribers = 0;

  /** Task attempts of this process's worker and the runs this process ended. */
  readonly events$: Observable<PgflowEvent> = new Observable<PgflowEvent>((subscriber) => {
    this.subscribers++;
    const sub = this.subject.subscribe(subscriber);
    return () => {
      this.subscribers--;
      sub.unsubscribe();
    };
  });

  /** True while someone subscribes: events that cost a query are looked up only then. */
  get observed(): boolean {
    return this.subscribers > 0;
  }

  /** Emits an event (library internal). */
  emit(event: PgflowEvent): void {
    if (this.subscribers === 0) return;
    try {
      this.subject.next(event);
    } catch {
      // a subscriber's error must never reach the worker's result path
    }
  }
}

// The dashboard's JSON API, at the mount path the server wrote into the page.

/** The mount path (global prefix included), without a trailing slash. */
export const BASE = document.querySelector('meta[name="pgflow-base"]')?.getAttribute('content') ?? '/pgflow';
/** Mutations are refused by the server; the page shows no buttons for them. */
export const READ_ONLY = document.querySelector('meta[name="pgflow-read-only"]')?.getAttribute('content') === 'true';

export type RunStatus = 'queued' | 'started' | 'completed' | 'failed' | 'cancelled' | 'compensating' | 'compensation_failed';
export type StepStatus = 'created' | 'waiting' | 'started' | 'completed' | 'failed' | 'skipped' | 'cancelled';

export interface StepInfo {
  stepSlug: string;
  status: StepStatus;
  totalTasks: number | null;
  remainingTasks: number | null;
  output?: unknown;
  error?: string;
  /** a subflow step's child runs, by task index */
  childRunIds?: string[];
}

export interface RunInfo {
  runId: string;
  flowSlug: string;
  status: RunStatus;
  input: unknown;
  output: unknown;
  error: { stepSlug: string; taskIndex: number; message: string } | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  failedAt: string | null;
  /** the run whose subflow step started this one */
  parentRunId: string | null;
  progress: { totalSteps: number; completedSteps: number; percentage: number };
  steps: StepInfo[];
}

export interface TaskAttemptInfo {
  attempt: number;
  error: string | null;
  startedAt: string | null;
  endedAt: string | null;
  workerId: string | null;
}

export interface TaskInfo {
  stepSlug: string;
  taskIndex: number;
  status: string;
  /** the latest attempt's number (0: never claimed) */
  attempt: number;
  error: string | null;
  workerId: string | null;
  startedAt: string | null;
  completedAt: string | null;
  /** the last 20, oldest first */
  attempts: TaskAttemptInfo[];
}

export interface RunSignalInfo {
  name: string;
  signalId: string;
  payload: unknown;
  consumedBy: string | null;
  createdAt: string;
  consumedAt: string | null;
}

export interface DashboardRun extends RunInfo {
  tasks: TaskInfo[];
  signals: RunSignalInfo[];
}

export interface FlowGraphStep {
  stepSlug: string;
  stepType: 'single' | 'map';
  mapSource: string | null;
  signalName: string | null;
  dependsOn: string[];
}

export interface DashboardFlow {
  flowSlug: string;
  deprecated: boolean;
  steps: FlowGraphStep[];
  counts: Partial<Record<RunStatus, number>>;
}

export interface WorkerInfo {
  workerId: string;
  flows: string[];
  startedAt: string;
  lastHeartbeatAt: string;
  status: 'online' | 'stale' | 'stopped';
}

/** What the page's stream carries (`api/events?brief=1`): which run or step changed; pages read the rest. */
export type RunEvent =
  | { type: 'run'; runId: string; status: RunStatus }
  | { type: 'step'; runId: string; stepSlug: string; status: StepStatus };

/** An error the API answered: `{ error, message }`. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

async function request<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(`${BASE}/api${path}`, { credentials: 'same-origin', ...init });
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const e = (body ?? {}) as { error?: string; message?: string };
    throw new ApiError(res.status, e.error ?? String(res.status), e.message ?? res.statusText);
  }
  return body as T;
}

/** GET `<base>/api<path>`. */
export const get = <T>(path: string): Promise<T> => request<T>(path);

/** POST JSON to `<base>/api<path>`. */
export const post = <T>(path: string, body: unknown = {}): Promise<T> =>
  request<T>(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

type Listener = (e: RunEvent) => void;
const listeners = new Set<Listener>();
let source: EventSource | undefined;

/** Calls `fn` with every run event from the server's stream (one EventSource per page); returns the unsubscribe. */
export function onRunEvent(fn: Listener): () => void {
  listeners.add(fn);
  if (!source) {
    source = new EventSource(`${BASE}/api/events?brief=1`);
    source.onmessage = (m: MessageEvent<string>) => {
      let e: RunEvent;
      try {
        e = JSON.parse(m.data) as RunEvent;
      } catch {
        return;
      }
      for (const l of listeners) l(e);
    };
  }
  return () => {
    listeners.delete(fn);
    if (!listeners.size && source) {
      source.close();
      source = undefined;
    }
  };
}

/** JSON as indented text, for <pre> (rendered as text, never as HTML). */
export const pretty = (v: unknown): string => (v === undefined ? '' : JSON.stringify(v, null, 2));

/** A time as the browser's locale shows it, or an en dash. */
export const when = (t: string | null | undefined): string => (t ? new Date(t).toLocaleString() : '–');

import { useState } from 'preact/hooks';
import { Link, useLocation, useSearch } from 'wouter-preact';
import {
  ApiError, DashboardFlow, DashboardRun, get, post, pretty, READ_ONLY, RunInfo, RunStatus, TaskInfo, when, WorkerInfo,
} from './api';
import { Dag } from './dag';
import { useLoad, useRunEvents } from './hooks';

const STATUSES: RunStatus[] = ['queued', 'started', 'completed', 'failed', 'cancelled', 'compensating', 'compensation_failed'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE = 50;
const BULK_LIMIT = 1000;

const Status = ({ s }: { s: string }) => <span class={`badge st-${s}`}>{s}</span>;
const Json = ({ label, value }: { label: string; value: unknown }) => (
  <section class="json"><h3>{label}</h3><pre data-testid={label.toLowerCase()}>{pretty(value)}</pre></section>
);
const Problem = ({ message }: { message?: string }) => (message ? <p class="problem" role="alert">{message}</p> : null);

/** Runs newest first: filter by flow and status, search by run id, page back by creation time. */
export function RunsPage() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const flow = params.get('flow') ?? '';
  const status = params.get('status') ?? '';
  const before = params.get('before') ?? '';
  const key = params.get('key') ?? '';
  const [query, setQuery] = useState(key);
  const [bulkReport, setBulkReport] = useState<string | undefined>(undefined);
  const flows = useLoad(() => get<DashboardFlow[]>('/flows'), 'flows');
  const runs = useLoad(() => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (flow) q.set('flow', flow);
    if (status) q.set('status', status);
    if (before) q.set('before', before);
    if (key) q.set('key', key);
    return get<RunInfo[]>(`/runs?${q}`);
  }, search);
  useRunEvents(() => runs.reload(), 500);
  const go = (next: Record<string, string>) => {
    const q = new URLSearchParams({ flow, status, before, key: '', ...next });
    for (const [k, v] of [...q]) if (!v) q.delete(k);
    navigate(q.size ? `/?${q}` : '/');
  };
  const list = runs.data ?? [];
  const bulk = async (verb: 'cancel' | 'retry') => {
    const what = `${flow || 'every flow'}${status ? `, status ${status}` : ''}`;
    if (!window.confirm(`${verb === 'cancel' ? 'Cancel' : 'Retry'} up to ${BULK_LIMIT} runs of ${what}?`)) return;
    try {
      const r = await post<{ matched: number; changed: number }>(`/bulk/${verb}`,
        { flow: flow || undefined, status: status || undefined, before: before || undefined, limit: BULK_LIMIT });
      setBulkReport(`${verb === 'cancel' ? 'Cancelled' : 'Retried'} ${r.changed} of ${r.matched} runs`);
    } catch (e) {
      setBulkReport(e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));
    }
    runs.reload();
  };
  return (
    <main>
      <h2>Runs</h2>
      <form class="filters" onSubmit={(e) => {
        e.preventDefault();
        const id = query.trim();
        if (UUID.test(id)) navigate(`/runs/${id}`);
        else go({ key: id, before: '' });
      }}>
        <label>Flow <select value={flow} onChange={(e) => go({ flow: e.currentTarget.value, before: '' })}>
          <option value="">all</option>
          {(flows.data ?? []).map((f) => <option key={f.flowSlug} value={f.flowSlug}>{f.flowSlug}</option>)}
        </select></label>
        <label>Status <select value={status} onChange={(e) => go({ status: e.currentTarget.value, before: '' })}>
          <option value="">all</option>
          {STATUSES.map((s) => <option key={s} value={s}>{s}</option>)}
        </select></label>
        <label>Run id or idempotency key <input value={query} onInput={(e) => setQuery(e.currentTarget.value)} /></label>
        <button type="submit">Search</button>
        {READ_ONLY || key ? null : (
          <span class="bulk">
            <button type="button" onClick={() => void bulk('cancel')}>Cancel all</button>
            <button type="button" onClick={() => void bulk('retry')}>Retry all</button>
          </span>
        )}
      </form>
      <Problem message={runs.error} />
      {bulkReport ? <p class="report" role="status">{bulkReport}</p> : null}
      <table class="runs">
        <thead><tr><th>Run</th><th>Flow</th><th>Status</th><th>Progress</th><th>Created</th></tr></thead>
        <tbody>
          {list.map((r) => (
            <tr key={r.runId} data-run={r.runId}>
              <td><Link href={`/runs/${r.runId}`} class="mono">{r.runId}</Link></td>
              <td><Link href={`/flows/${r.flowSlug}`}>{r.flowSlug}</Link></td>
              <td><Status s={r.status} /></td>
              <td>{r.progress.completedSteps}/{r.progress.totalSteps}</td>
              <td>{when(r.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {runs.data && !list.length ? <p class="muted">No runs.</p> : null}
      <nav class="pager">
        {before ? <button onClick={() => go({ before: '' })}>Newest</button> : null}
        {list.length === PAGE ? <button onClick={() => go({ before: list[list.length - 1].runId })}>Older</button> : null}
      </nav>
    </main>
  );
}

/** One run: its DAG with step statuses, input, output, error, steps, tasks, signals, and the actions. */
export function RunPage({ runId }: { runId: string }) {
  const run = useLoad(() => get<DashboardRun>(`/runs/${encodeURIComponent(runId)}`), runId);
  const flows = useLoad(() => get<DashboardFlow[]>('/flows'), 'flows');
  const [problem, setProblem] = useState<string | undefined>(undefined);
  useRunEvents(() => run.reload(), 150, (e) => e.runId === runId);
  const act = async (verb: 'cancel' | 'retry') => {
    setProblem(undefined);
    try {
      await post(`/runs/${encodeURIComponent(runId)}/${verb}`);
    } catch (e) {
      setProblem(e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));
    }
    run.reload();
  };
  const r = run.data;
  if (!r) return <main><Problem message={run.error} />{run.error ? null : <p class="muted">Loading…</p>}</main>;
  const flow = flows.data?.find((f) => f.flowSlug === r.flowSlug);
  const waiting = r.steps.filter((s) => s.status === 'waiting');
  return (
    <main>
      <h2>Run <span class="mono">{r.runId}</span> <Status s={r.status} /></h2>
      <p>Flow <Link href={`/flows/${r.flowSlug}`}>{r.flowSlug}</Link> · created {when(r.createdAt)} · started{' '}
        {when(r.startedAt)} · ended {when(r.completedAt ?? r.failedAt)} · {r.progress.completedSteps}/{r.progress.totalSteps} steps
        {r.parentRunId ? <> · child of <Link href={`/runs/${r.parentRunId}`} class="mono" data-parent-run>{r.parentRunId}</Link></> : null}</p>
      {READ_ONLY ? null : (
        <div class="actions">
          <button onClick={() => void act('cancel')}>Cancel</button>
          <button onClick={() => void act('retry')}>Retry</button>
        </div>
      )}
      <Problem message={problem} />
      {flow ? <div class="dag-box"><Dag steps={flow.steps} states={r.steps} /></div> : null}
      <div class="cols">
        <Json label="Input" value={r.input} />
        <Json label="Output" value={r.output} />
        {r.error ? <Json label="Error" value={r.error} /> : null}
      </div>
      {READ_ONLY || !flow ? null : waiting.map((s) => {
        const name = flow.steps.find((f) => f.stepSlug === s.stepSlug)?.signalName ?? '';
        return <SignalForm key={`${s.stepSlug}:${name}`} runId={r.runId} name={name} onSent={run.reload} />;
      })}
      <h3>Steps</h3>
      <table>
        <thead><tr><th>Step</th><th>Status</th><th>Tasks</th><th>Child runs</th><th>Output</th><th>Error</th></tr></thead>
        <tbody>
          {r.steps.map((s) => (
            <tr key={s.stepSlug} data-step-row={s.stepSlug}>
              <td>{s.stepSlug}</td><td><Status s={s.status} /></td>
              <td>{s.totalTasks === null ? '–' : `${s.totalTasks - (s.remainingTasks ?? 0)}/${s.totalTasks}`}</td>
              <td>{s.childRunIds?.length ? <ChildRuns ids={s.childRunIds} /> : '–'}</td>
              <td><pre>{pretty(s.output)}</pre></td><td><pre>{s.error ?? ''}</pre></td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Tasks</h3>
      <table>
        <thead><tr><th>Step</th><th>Task</th><th>Status</th><th>Attempts</th><th>Worker</th><th>Started</th><th>Ended</th><th>Error</th></tr></thead>
        <tbody>
          {r.tasks.map((t) => (
            <tr key={`${t.stepSlug}:${t.taskIndex}`} data-task-row={`${t.stepSlug}:${t.taskIndex}`}>
              <td>{t.stepSlug}</td><td>{t.taskIndex}</td><td><Status s={t.status} /></td>
              <td><Attempts t={t} /></td>
              <td class="mono">{t.workerId ?? '–'}</td><td>{when(t.startedAt)}</td>
              <td>{when(t.completedAt ?? t.attempts[t.attempts.length - 1]?.endedAt ?? null)}</td><td><pre>{t.error ?? ''}</pre></td>
            </tr>
          ))}
        </tbody>
      </table>
      {r.signals.length ? (
        <>
          <h3>Signals</h3>
          <table>
            <thead><tr><th>Name</th><th>Id</th><th>Payload</th><th>Taken by</th><th>Sent</th></tr></thead>
            <tbody>
              {r.signals.map((g) => (
                <tr key={`${g.name}:${g.signalId}`}>
                  <td>{g.name}</td><td class="mono">{g.signalId}</td><td><pre>{pretty(g.payload)}</pre></td>
                  <td>{g.consumedBy ?? 'buffered'}</td><td>{when(g.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </main>
  );
}

/** Sends a signal to a step that waits for it. */
function SignalForm({ runId, name: initial, onSent }: { runId: string; name: string; onSent: () => void }) {
  const [name, setName] = useState(initial);
  const [payload, setPayload] = useState('{}');
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const send = async (e: Event) => {
    e.preventDefault();
    setProblem(undefined);
    let value: unknown;
    try {
      value = JSON.parse(payload);
    } catch {
      setProblem('the payload is not JSON');
      return;
    }
    try {
      await post(`/runs/${encodeURIComponent(runId)}/signals`, { name, payload: value });
      onSent();
    } catch (err) {
      setProblem(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
    }
  };
  return (
    <form class="signal" onSubmit={(e) => void send(e)}>
      <h3>Waiting for a signal</h3>
      <label>Name <input value={name} onInput={(e) => setName(e.currentTarget.value)} /></label>
      <label>Payload (JSON) <textarea rows={3} value={payload} onInput={(e) => setPayload(e.currentTarget.value)} /></label>
      <button type="submit">Send signal</button>
      <Problem message={problem} />
    </form>
  );
}

/** Every flow with its counts of runs by status. */
export function FlowsPage() {
  const flows = useLoad(() => get<DashboardFlow[]>('/flows'), 'flows');
  useRunEvents(() => flows.reload(), 2000);
  return (
    <main>
      <h2>Flows</h2>
      <Problem message={flows.error} />
      <table>
        <thead><tr><th>Flow</th><th>Steps</th>{STATUSES.map((s) => <th key={s}>{s}</th>)}</tr></thead>
        <tbody>
          {(flows.data ?? []).map((f) => (
            <tr key={f.flowSlug}>
              <td><Link href={`/flows/${f.flowSlug}`}>{f.flowSlug}</Link>{f.deprecated ? ' (deprecated)' : ''}</td>
              <td>{f.steps.length}</td>
              {STATUSES.map((s) => <td key={s}>{f.counts[s] ?? 0}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}

/** A flow: its DAG and its runs by status. */
export function FlowPage({ slug }: { slug: string }) {
  const flows = useLoad(() => get<DashboardFlow[]>('/flows'), 'flows');
  useRunEvents(() => flows.reload(), 2000);
  const f = flows.data?.find((x) => x.flowSlug === slug);
  if (flows.data && !f) return <main><Problem message={`no flow ${slug}`} /></main>;
  if (!f) return <main><Problem message={flows.error} /></main>;
  return (
    <main>
      <h2>Flow {f.flowSlug}</h2>
      <ul class="counts">
        {STATUSES.map((s) => (
          <li key={s}><Link href={`/?flow=${encodeURIComponent(f.flowSlug)}&status=${s}`}><Status s={s} /> {f.counts[s] ?? 0}</Link></li>
        ))}
      </ul>
      <div class="dag-box"><Dag steps={f.steps} /></div>
    </main>
  );
}

/** Workers: online, stale or stopped, with their last heartbeat. */
export function WorkersPage() {
  const workers = useLoad(() => get<WorkerInfo[]>('/workers'), 'workers');
  return (
    <main>
      <h2>Workers</h2>
      <Problem message={workers.error} />
      <table>
        <thead><tr><th>Worker</th><th>Status</th><th>Flows</th><th>Started</th><th>Last heartbeat</th></tr></thead>
        <tbody>
          {(workers.data ?? []).map((w) => (
            <tr key={w.workerId}>
              <td class="mono">{w.workerId}</td><td><Status s={w.status} /></td><td>{w.flows.join(', ')}</td>
              <td>{when(w.startedAt)}</td><td>{when(w.lastHeartbeatAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <button onClick={workers.reload}>Refresh</button>
    </main>
  );
}

function seconds(a: string | null, b: string | null): string {
  return a && b ? `${((Date.parse(b) - Date.parse(a)) / 1000).toFixed(3)} s` : '–';
}

/** A task's attempt count, opening to each kept attempt: worker, start, duration, error. */
function Attempts({ t }: { t: TaskInfo }) {
  if (!t.attempts.length) return <span>{t.attempt}</span>;
  return (
    <details>
      <summary>{t.attempt}</summary>
      <ol class="attempts">
        {t.attempts.map((a) => (
          <li key={`${a.attempt}:${a.startedAt ?? ''}`} value={a.attempt} data-attempt={a.attempt}>
            <span class="mono">{a.workerId ?? '–'}</span> · {when(a.startedAt)} · {a.endedAt ? seconds(a.startedAt, a.endedAt) : 'running'}
            {a.error ? <pre>{a.error}</pre> : null}
          </li>
        ))}
      </ol>
    </details>
  );
}

/** A subflow step's child runs by task index; many open behind a count. */
function ChildRuns({ ids }: { ids: string[] }) {
  const links = ids.map((id, i) => (
    <li key={id} value={i}><Link href={`/runs/${id}`} class="mono" data-child-run={i}>{id.slice(0, 8)}</Link></li>
  ));
  return ids.length <= 5 ? <ol class="children">{links}</ol> : (
    <details><summary>{ids.length} child runs</summary><ol class="children">{links}</ol></details>
  );
}

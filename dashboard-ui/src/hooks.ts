import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { onRunEvent, RunEvent } from './api';

/** Loads with `load` whenever `key` changes; `reload` re-reads (debounced when asked to be). */
export function useLoad<T>(load: () => Promise<T>, key: string) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const seq = useRef(0);
  const reload = useCallback(() => {
    const mine = ++seq.current;
    loadRef.current().then(
      (d) => { if (mine === seq.current) { setData(d); setError(undefined); } },
      (e: Error) => { if (mine === seq.current) setError(e.message); },
    );
  }, []);
  useEffect(() => { setData(undefined); reload(); }, [key]);
  return { data, error, reload };
}

/** Calls `fn` for each run event while mounted, at most once per `ms` (trailing call kept). */
export function useRunEvents(fn: (e: RunEvent) => void, ms = 250) {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    let timer: number | undefined;
    let last: RunEvent | undefined;
    const off = onRunEvent((e) => {
      last = e;
      if (timer === undefined) {
        timer = window.setTimeout(() => { timer = undefined; if (last) fnRef.current(last); }, ms);
      }
    });
    return () => { off(); window.clearTimeout(timer); };
  }, [ms]);
}

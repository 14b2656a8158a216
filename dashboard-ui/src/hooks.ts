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

/**
 * Calls `fn` after run events that `match` accepts, while mounted, at most once per `ms`
 * (the trailing call kept). Each event is matched as it arrives: matching only the last
 * of a burst missed a run page's own change whenever another run's followed it.
 */
export function useRunEvents(fn: () => void, ms = 250, match: (e: RunEvent) => boolean = () => true) {
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const matchRef = useRef(match);
  matchRef.current = match;
  useEffect(() => {
    let timer: number | undefined;
    const off = onRunEvent((e) => {
      if (timer !== undefined || !matchRef.current(e)) return;
      timer = window.setTimeout(() => { timer = undefined; fnRef.current(); }, ms);
    });
    return () => { off(); window.clearTimeout(timer); };
  }, [ms]);
}

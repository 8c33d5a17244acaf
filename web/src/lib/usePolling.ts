"use client";
import { useCallback, useEffect, useRef, useState } from "react";

export interface Polled<T> {
  data: T | undefined;
  error: unknown;
  /** True until the first answer for the current key. */
  loading: boolean;
  reload: () => void;
}

/**
 * Loads now and every `intervalMs` while the tab is visible (hidden tabs stop polling and
 * catch up when shown). The last good answer stays on screen while the next one loads and when
 * one fails, so numbers never blink. A new `key` (other filters) starts over; answers to an
 * older key are dropped.
 */
export function usePolling<T>(
  load: (signal: AbortSignal) => Promise<T>,
  key: string,
  intervalMs: number | null,
): Polled<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: unknown; done: boolean }>({
    key,
    done: false,
  });
  const loadRef = useRef(load);
  loadRef.current = load;
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((n) => n + 1), []);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let controller: AbortController | undefined;

    const run = async () => {
      clearTimeout(timer);
      if (document.hidden) return;
      controller?.abort();
      controller = new AbortController();
      try {
        const data = await loadRef.current(controller.signal);
        if (!stopped) setState({ key, data, done: true, error: undefined });
      } catch (error) {
        if (stopped || (error instanceof DOMException && error.name === "AbortError")) return;
        setState((prev) => ({ ...prev, key, error, done: true }));
      }
      if (!stopped && intervalMs !== null) timer = setTimeout(() => void run(), intervalMs);
    };
    const onVisibility = () => {
      if (!document.hidden) void run();
      else clearTimeout(timer);
    };
    void run();
    document.addEventListener("visibilitychange", onVisibility);
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller?.abort();
      document.removeEventListener("visibilitychange", onVisibility);
    };
  }, [key, intervalMs, tick]);

  const current = state.key === key;
  return {
    data: state.data,
    error: current ? state.error : undefined,
    loading: !current || !state.done,
    reload,
  };
}

/** Unwraps an openapi-fetch result: the data, or throws the API's error body. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) throw result.error ?? new Error(`HTTP ${result.response.status}`);
  return result.data;
}

"use client";

// Loads data from the API for a component: loading, error and data states, and reload().

import { useCallback, useEffect, useRef, useState } from "react";

export interface ApiData<T> {
  data: T | null;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (data: T) => void;
}

// `load` runs on mount and whenever `deps` change; `enabled` false waits (e.g. for a site name
// read from the URL after mount).
export function useApiData<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  enabled = true,
): ApiData<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const value = await loadRef.current();
      if (mine !== generation.current) return;
      setData(value);
      setError(null);
    } catch (e) {
      if (mine !== generation.current) return;
      setError(e);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    if (!enabled) return;
    void reload();
    return () => {
      generation.current++; // drop answers that arrive after unmount or a deps change
    };
  }, [enabled, reload, ...deps]);

  return { data, error, loading, reload, setData };
}

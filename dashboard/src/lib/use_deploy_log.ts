"use client";

// A deploy's build log for a component: followed live over the WebSocket while the deploy is in
// progress, loaded once (GET .../log) when it is done. When the live connection cannot be kept
// (a proxy without WebSockets, a server restarting), the log is polled instead until the deploy
// is done; retry() tries the live connection again.

import { useCallback, useEffect, useRef, useState } from "react";

import { api, expireSession } from "./api/client";
import { isDeployStateInProgress, type LogLine } from "./api/types";
import {
  openDeployLogStream,
  type LogSocketFactory,
  type LogStreamEnd,
  type LogStreamStatus,
} from "./deploy_log_stream";

export type DeployLogStatus =
  | LogStreamStatus
  | "loading" // a finished deploy's log is being loaded
  | "loaded"
  | "load_failed"
  | "polling"; // no live connection: asking for the log every few seconds

export interface DeployLogData {
  lines: LogLine[];
  status: DeployLogStatus;
  error: unknown; // the last failed GET (for "load_failed", or while polling)
  state: string | null; // the deploy's state as the stream (or the polled log) last told it
  end: LogStreamEnd | null; // set once the deploy is done
  retry: () => void;
}

export interface DeployLogOptions {
  openSocket?: LogSocketFactory;
  pollMs?: number; // default 2 s
  maxAttempts?: number; // failed connections in a row before polling; default 4 (about 3.5 s)
}

// Adds `fresh` to `lines`, keeping them ordered by n and each n once.
export function mergeLogLines(lines: readonly LogLine[], fresh: readonly LogLine[]): LogLine[] {
  if (fresh.length === 0) return lines as LogLine[];
  const last = lines[lines.length - 1];
  if (last === undefined || fresh.every((l, i) => l.n > (i === 0 ? last.n : fresh[i - 1]!.n))) {
    return [...lines, ...fresh];
  }
  const byN = new Map<number, LogLine>();
  for (const l of lines) byN.set(l.n, l);
  for (const l of fresh) if (!byN.has(l.n)) byN.set(l.n, l);
  return [...byN.values()].sort((a, b) => a.n - b.n);
}

export function useDeployLog(deployId: string, live: boolean, options: DeployLogOptions = {}): DeployLogData {
  const { openSocket, pollMs = 2000, maxAttempts = 4 } = options;
  const [lines, setLines] = useState<LogLine[]>([]);
  const [status, setStatus] = useState<DeployLogStatus>(live ? "connecting" : "loading");
  const [error, setError] = useState<unknown>(null);
  const [state, setState] = useState<string | null>(null);
  const [end, setEnd] = useState<LogStreamEnd | null>(null);
  const [attempt, setAttempt] = useState(0);
  // Read when connecting; a new function on each render must not reconnect.
  const socketFactory = useRef(openSocket);
  socketFactory.current = openSocket;

  useEffect(() => {
    let active = true;
    let timer: ReturnType<typeof setTimeout> | null = null;

    const loadOnce = async () => {
      try {
        const log = await api.getDeployLog(deployId);
        if (!active) return;
        setLines((old) => mergeLogLines(old, log.lines));
        setStatus("loaded");
      } catch (e) {
        if (!active) return;
        setError(e);
        setStatus("load_failed");
      }
    };

    const poll = async () => {
      timer = null;
      try {
        const log = await api.getDeployLog(deployId);
        if (!active) return;
        setLines((old) => mergeLogLines(old, log.lines));
        setState(log.state);
        setError(null);
        if (!isDeployStateInProgress(log.state)) {
          setEnd({ state: log.state, errorMessage: null });
          setStatus("ended");
          return;
        }
      } catch (e) {
        if (!active) return;
        setError(e); // shown; polling goes on
      }
      if (active) timer = setTimeout(() => void poll(), pollMs);
    };

    if (!live) {
      setStatus("loading");
      void loadOnce();
      return () => {
        active = false;
      };
    }

    setStatus("connecting");
    const stream = openDeployLogStream({
      deployId,
      openSocket: socketFactory.current,
      maxAttempts,
      onLines: (fresh) => setLines((old) => mergeLogLines(old, fresh)),
      onState: setState,
      onEnd: (e) => {
        setState(e.state);
        setEnd(e);
      },
      onStatus: (s) => {
        if (s === "failed") {
          setStatus("polling");
          void poll();
          return;
        }
        setStatus(s);
        if (s === "unauthenticated") expireSession();
      },
    });
    return () => {
      active = false;
      if (timer !== null) clearTimeout(timer);
      stream.close();
    };
  }, [deployId, live, pollMs, maxAttempts, attempt]);

  const retry = useCallback(() => {
    setError(null);
    setAttempt((a) => a + 1);
  }, []);

  return { lines, status, error, state, end, retry };
}

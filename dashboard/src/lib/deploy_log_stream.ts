// The live build log of a deploy over a WebSocket: ws(s)://<this host>/api/v1/deploys/{id}/log/stream.
//
// Browsers cannot set headers on a WebSocket, so the token travels as a subprotocol:
// ["replideploy.log.v1", "bearer.<token>"]; the server selects "replideploy.log.v1". The server
// sends JSON text frames:
//   {"type":"lines","lines":[{n,ts,stream,line}]}  the lines so far, then new ones as they come
//   {"type":"state","state":"building"}            the deploy's state changed
//   {"type":"end","state":"ready","error_message"} the last message; the server closes (1000)
// Close codes: 4401 not authenticated (no retry), 4404 no such deploy (no retry). A connection
// that drops before "end" is opened again with backoff; the server then sends every line again,
// so lines are passed on once per `n`.
//
// Not thread-related; one stream per call, stopped by close(). Callbacks never run after close().

import type { LogLine } from "./api/types";
import { loadToken } from "./session";

export const kLogProtocol = "replideploy.log.v1";
export const kCloseUnauthenticated = 4401;
export const kCloseNotFound = 4404;

// What the client needs of a WebSocket (the browser's, or a fake in tests).
export interface LogSocket {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

export type LogSocketFactory = (url: string, protocols: string[]) => LogSocket;

export type LogStreamStatus =
  | "connecting" // the first connection is being opened
  | "live" // lines arrive as the build writes them
  | "reconnecting" // the connection dropped; trying again after a pause
  | "ended" // "end" arrived: the deploy is done
  | "unauthenticated" // 4401 (or no token)
  | "not_found" // 4404
  | "failed"; // gave up reconnecting

export interface LogStreamEnd {
  state: string;
  errorMessage: string | null;
}

export interface DeployLogStreamOptions {
  deployId: string;
  onLines: (lines: LogLine[]) => void; // only lines not passed on before, ordered by n
  onState?: (state: string) => void;
  onEnd?: (end: LogStreamEnd) => void;
  onStatus?: (status: LogStreamStatus) => void;
  getToken?: () => string | null;
  url?: string; // default: this page's host
  openSocket?: LogSocketFactory; // default: the browser's WebSocket
  // Pause before reconnect attempt `attempt` (1, 2, ...): 0.5 s doubling up to 10 s.
  backoffMs?: (attempt: number) => number;
  // Consecutive failed connections (no message received) before giving up.
  maxAttempts?: number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (timer: unknown) => void;
}

export interface DeployLogStream {
  close(): void;
}

export function defaultBackoffMs(attempt: number): number {
  return Math.min(500 * 2 ** (attempt - 1), 10_000);
}

// A function's live log: the same protocol without "state" and "end" messages (it never ends);
// on connecting the server sends the function's last lines. Pass it as `url`.
export function functionLogStreamUrl(
  site: string,
  functionName: string,
  location: { protocol: string; host: string } = window.location,
): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/v1/sites/${encodeURIComponent(site)}/functions/${encodeURIComponent(functionName)}/log/stream`;
}

// ws://host/... for http pages, wss://host/... for https ones.
export function deployLogStreamUrl(
  deployId: string,
  location: { protocol: string; host: string } = window.location,
): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/v1/deploys/${encodeURIComponent(deployId)}/log/stream`;
}

export function openDeployLogStream(options: DeployLogStreamOptions): DeployLogStream {
  const getToken = options.getToken ?? loadToken;
  const openSocket: LogSocketFactory =
    options.openSocket ?? ((url, protocols) => new WebSocket(url, protocols) as unknown as LogSocket);
  const backoff = options.backoffMs ?? defaultBackoffMs;
  const maxAttempts = options.maxAttempts ?? 8;
  const setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = options.clearTimer ?? ((t) => clearTimeout(t as ReturnType<typeof setTimeout>));

  const seen = new Set<number>();
  let socket: LogSocket | null = null;
  let timer: unknown = null;
  let stopped = false; // closed by the caller, or finished
  let failures = 0; // connections in a row that brought no message

  const status = (s: LogStreamStatus) => {
    if (!stopped) options.onStatus?.(s);
  };

  const finish = (s: LogStreamStatus) => {
    status(s);
    stopped = true;
    detach();
  };

  const detach = () => {
    if (timer !== null) clearTimer(timer);
    timer = null;
    const s = socket;
    socket = null;
    if (s !== null) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try {
        s.close(1000);
      } catch {
        // already closed
      }
    }
  };

  const onMessage = (data: unknown) => {
    if (stopped || typeof data !== "string") return;
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      return; // not ours: ignore the frame
    }
    if (typeof message !== "object" || message === null) return;
    const m = message as Record<string, unknown>;
    failures = 0; // this connection works
    if (m.type === "lines" && Array.isArray(m.lines)) {
      const fresh = m.lines.filter(isLogLine).filter((l) => !seen.has(l.n));
      fresh.sort((a, b) => a.n - b.n);
      const unique = fresh.filter((l, idx) => idx === 0 || fresh[idx - 1]!.n !== l.n);
      for (const l of unique) seen.add(l.n);
      if (unique.length > 0) options.onLines(unique);
    } else if (m.type === "state" && typeof m.state === "string") {
      options.onState?.(m.state);
    } else if (m.type === "end") {
      const state = typeof m.state === "string" ? m.state : "";
      const errorMessage =
        typeof m.error_message === "string" && m.error_message !== "" ? m.error_message : null;
      finish("ended");
      options.onEnd?.({ state, errorMessage });
    }
  };

  const onClose = (code: number) => {
    if (stopped) return;
    socket = null;
    if (code === kCloseUnauthenticated) return finish("unauthenticated");
    if (code === kCloseNotFound) return finish("not_found");
    failures++;
    if (failures >= maxAttempts) return finish("failed");
    status("reconnecting");
    timer = setTimer(() => {
      timer = null;
      connect();
    }, backoff(failures));
  };

  const connect = () => {
    if (stopped) return;
    const token = getToken();
    if (token === null || token === "") return finish("unauthenticated");
    let s: LogSocket;
    try {
      s = openSocket(options.url ?? deployLogStreamUrl(options.deployId), [
        kLogProtocol,
        `bearer.${token}`,
      ]);
    } catch {
      // e.g. a token with characters a subprotocol cannot carry
      return finish("failed");
    }
    socket = s;
    s.onopen = () => {
      if (!stopped) status("live");
    };
    s.onmessage = (event) => onMessage(event.data);
    s.onclose = (event) => onClose(event.code);
    s.onerror = () => {
      // a close event follows; it decides
    };
  };

  status("connecting");
  connect();

  return {
    close() {
      stopped = true;
      detach();
    },
  };
}

function isLogLine(v: unknown): v is LogLine {
  if (typeof v !== "object" || v === null) return false;
  const l = v as Record<string, unknown>;
  return typeof l.n === "number" && typeof l.line === "string";
}

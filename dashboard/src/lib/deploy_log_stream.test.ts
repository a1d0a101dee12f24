import { describe, expect, it, vi } from "vitest";

import type { LogLine } from "./api/types";
import {
  defaultBackoffMs,
  deployLogStreamUrl,
  openDeployLogStream,
  type DeployLogStreamOptions,
  type LogSocket,
  type LogStreamStatus,
} from "./deploy_log_stream";

// A WebSocket the test drives: it records how it was opened and lets the test play the server.
class FakeSocket implements LogSocket {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason?: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  closedByClient: number | null = null;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}

  open() {
    this.onopen?.({});
  }
  send(message: unknown) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  sendRaw(data: unknown) {
    this.onmessage?.({ data });
  }
  // The server (or the network) closes the connection.
  drop(code: number) {
    this.onerror?.({});
    this.onclose?.({ code });
  }
  close(code?: number) {
    this.closedByClient = code ?? 1005;
  }
}

function line(n: number, text = `step ${n}`): LogLine {
  return { n, ts: `2026-11-25T10:00:0${n % 10}.000Z`, stream: "stdout", line: text };
}

// A stream on fake sockets and a manual timer queue.
function harness(options: Partial<DeployLogStreamOptions> = {}) {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; ms: number; cleared: boolean }[] = [];
  const received: number[] = [];
  const statuses: LogStreamStatus[] = [];
  const states: string[] = [];
  const ends: { state: string; errorMessage: string | null }[] = [];
  const stream = openDeployLogStream({
    deployId: "d1",
    url: "ws://test/api/v1/deploys/d1/log/stream",
    getToken: () => "tok.en_1-x",
    openSocket: (url, protocols) => {
      const s = new FakeSocket(url, protocols);
      sockets.push(s);
      return s;
    },
    onLines: (lines) => received.push(...lines.map((l) => l.n)),
    onState: (s) => states.push(s),
    onEnd: (e) => ends.push(e),
    onStatus: (s) => statuses.push(s),
    setTimer: (fn, ms) => {
      const t = { fn, ms, cleared: false };
      timers.push(t);
      return t;
    },
    clearTimer: (t) => {
      (t as { cleared: boolean }).cleared = true;
    },
    ...options,
  });
  const fireTimers = () => {
    for (const t of timers.splice(0)) if (!t.cleared) t.fn();
  };
  const last = () => sockets[sockets.length - 1]!;
  return { stream, sockets, timers, received, statuses, states, ends, fireTimers, last };
}

describe("deployLogStreamUrl", () => {
  it("uses ws: on http pages and wss: on https ones", () => {
    expect(deployLogStreamUrl("d/1", { protocol: "http:", host: "localhost:8080" })).toBe(
      "ws://localhost:8080/api/v1/deploys/d%2F1/log/stream",
    );
    expect(deployLogStreamUrl("abc", { protocol: "https:", host: "deploy.example.com" })).toBe(
      "wss://deploy.example.com/api/v1/deploys/abc/log/stream",
    );
  });
});

describe("openDeployLogStream", () => {
  it("sends the token as a subprotocol and passes on lines, state and end", () => {
    const h = harness();
    expect(h.sockets).toHaveLength(1);
    expect(h.last().url).toBe("ws://test/api/v1/deploys/d1/log/stream");
    expect(h.last().protocols).toEqual(["replideploy.log.v1", "bearer.tok.en_1-x"]);

    h.last().open();
    h.last().send({ type: "lines", lines: [line(0), line(1)] });
    h.last().send({ type: "state", state: "building" });
    h.last().send({ type: "lines", lines: [line(2)] });
    h.last().send({ type: "end", state: "error", error_message: "build command failed" });
    h.last().drop(1000);

    expect(h.received).toEqual([0, 1, 2]);
    expect(h.states).toEqual(["building"]);
    expect(h.ends).toEqual([{ state: "error", errorMessage: "build command failed" }]);
    expect(h.statuses).toEqual(["connecting", "live", "ended"]);
    expect(h.last().closedByClient).toBe(1000);
    h.fireTimers();
    expect(h.sockets).toHaveLength(1); // no reconnect after the end
  });

  it("reconnects after a drop and passes on each line once when the server sends them again", () => {
    const h = harness();
    h.last().open();
    h.last().send({ type: "lines", lines: [line(0), line(1), line(2)] });
    h.last().drop(1006); // the network went away

    expect(h.statuses.at(-1)).toBe("reconnecting");
    expect(h.timers.map((t) => t.ms)).toEqual([500]);
    expect(h.sockets).toHaveLength(1); // not before the pause
    h.fireTimers();
    expect(h.sockets).toHaveLength(2);

    h.last().open();
    h.last().send({ type: "lines", lines: [line(0), line(1), line(2), line(3)] }); // from the start
    h.last().send({ type: "lines", lines: [line(4), line(3)] }); // and one repeated, out of order
    h.last().send({ type: "end", state: "ready" });

    expect(h.received).toEqual([0, 1, 2, 3, 4]);
    expect(h.ends).toEqual([{ state: "ready", errorMessage: null }]);
    expect(h.statuses).toEqual(["connecting", "live", "reconnecting", "live", "ended"]);
  });

  it("backs off longer after each failed connection and gives up after maxAttempts", () => {
    const h = harness({ maxAttempts: 4 });
    for (let i = 0; i < 3; i++) {
      h.last().drop(1006); // never opened
      h.fireTimers();
    }
    expect(h.sockets).toHaveLength(4);
    h.last().drop(1006);
    expect(h.statuses.at(-1)).toBe("failed");
    h.fireTimers();
    expect(h.sockets).toHaveLength(4);
    expect([1, 2, 3, 4, 5, 6].map(defaultBackoffMs)).toEqual([500, 1000, 2000, 4000, 8000, 10000]);
  });

  it("a message on the new connection resets the backoff", () => {
    const h = harness();
    const pauses: number[] = [];
    h.last().drop(1006);
    pauses.push(h.timers[0]!.ms);
    h.fireTimers();
    h.last().drop(1006);
    pauses.push(h.timers[0]!.ms);
    h.fireTimers();
    h.last().send({ type: "lines", lines: [] });
    h.last().drop(1001);
    pauses.push(h.timers[0]!.ms);
    expect(pauses).toEqual([500, 1000, 500]);
  });

  it("stops on 4401 (not authenticated) without trying again", () => {
    const h = harness();
    h.last().drop(4401);
    h.fireTimers();
    expect(h.statuses).toEqual(["connecting", "unauthenticated"]);
    expect(h.sockets).toHaveLength(1);
    expect(h.timers).toHaveLength(0);
  });

  it("stops on 4404 (no such deploy)", () => {
    const h = harness();
    h.last().drop(4404);
    h.fireTimers();
    expect(h.statuses).toEqual(["connecting", "not_found"]);
    expect(h.sockets).toHaveLength(1);
  });

  it("without a token opens nothing", () => {
    const h = harness({ getToken: () => null });
    expect(h.sockets).toHaveLength(0);
    expect(h.statuses).toEqual(["connecting", "unauthenticated"]);
  });

  it("ignores frames that are not its JSON", () => {
    const h = harness();
    h.last().sendRaw("not json");
    h.last().sendRaw(new ArrayBuffer(2));
    h.last().send({ type: "lines", lines: [{ n: "x" }, line(0), null] });
    h.last().send({ type: "mystery" });
    expect(h.received).toEqual([0]);
  });

  it("close() closes the socket, cancels a pending reconnect and silences the callbacks", () => {
    const h = harness();
    h.last().open();
    h.last().drop(1006);
    const pending = h.timers[0]!;
    const onLines = vi.fn();
    h.stream.close();
    expect(pending.cleared).toBe(true);
    h.fireTimers();
    expect(h.sockets).toHaveLength(1);

    const h2 = harness({ onLines });
    const socket = h2.last();
    h2.stream.close();
    expect(socket.closedByClient).toBe(1000);
    socket.send({ type: "lines", lines: [line(0)] }); // late frames go nowhere
    expect(onLines).not.toHaveBeenCalled();
  });
});

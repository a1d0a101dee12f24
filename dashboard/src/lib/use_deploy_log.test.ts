import { act, renderHook, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { LogLine } from "./api/types";
import type { LogSocket } from "./deploy_log_stream";
import { saveToken } from "./session";
import { mergeLogLines, useDeployLog } from "./use_deploy_log";

function line(n: number): LogLine {
  return { n, ts: "t", stream: "stdout", line: `step ${n}` };
}

function json(body: unknown) {
  return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
}

class FakeSocket implements LogSocket {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  close() {}
}

afterEach(() => vi.unstubAllGlobals());

describe("mergeLogLines", () => {
  it("appends in order and keeps each n once", () => {
    const a = [line(0), line(1)];
    expect(mergeLogLines(a, []).map((l) => l.n)).toEqual([0, 1]);
    expect(mergeLogLines(a, [line(2), line(3)]).map((l) => l.n)).toEqual([0, 1, 2, 3]);
    expect(mergeLogLines(a, [line(3), line(1), line(2)]).map((l) => l.n)).toEqual([0, 1, 2, 3]);
  });
});

describe("useDeployLog", () => {
  it("polls the log when the live connection cannot be made, until the deploy is done", async () => {
    saveToken("t");
    const answers = [
      { deploy_id: "d1", state: "building", lines: [line(0), line(1)] },
      { deploy_id: "d1", state: "building", lines: [line(0), line(1), line(2)] },
      { deploy_id: "d1", state: "ready", lines: [line(0), line(1), line(2), line(3)] },
    ];
    const fetch = vi.fn(async () => json(answers.shift()));
    vi.stubGlobal("fetch", fetch);
    const sockets: FakeSocket[] = [];
    const { result } = renderHook(() =>
      useDeployLog("d1", true, {
        openSocket: () => {
          const s = new FakeSocket();
          sockets.push(s);
          return s;
        },
        maxAttempts: 1,
        pollMs: 5,
      }),
    );
    expect(result.current.status).toBe("connecting");
    act(() => sockets[0]!.onclose?.({ code: 1006 }));
    await waitFor(() => expect(result.current.status).toBe("ended"));
    expect(result.current.lines.map((l) => l.n)).toEqual([0, 1, 2, 3]);
    expect(result.current.end).toEqual({ state: "ready", errorMessage: null });
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(fetch.mock.calls.every((c) => (c as unknown[])[0] === "/api/v1/deploys/d1/log")).toBe(true);
  });

  it("retry() opens the live connection again", async () => {
    saveToken("t");
    vi.stubGlobal("fetch", vi.fn(async () => json({ deploy_id: "d1", state: "building", lines: [] })));
    const sockets: FakeSocket[] = [];
    const { result, unmount } = renderHook(() =>
      useDeployLog("d1", true, {
        openSocket: () => {
          const s = new FakeSocket();
          sockets.push(s);
          return s;
        },
        maxAttempts: 1,
        pollMs: 60_000,
      }),
    );
    act(() => sockets[0]!.onclose?.({ code: 1006 }));
    await waitFor(() => expect(result.current.status).toBe("polling"));
    act(() => result.current.retry());
    expect(sockets).toHaveLength(2);
    act(() => sockets[1]!.onopen?.({}));
    expect(result.current.status).toBe("live");
    unmount();
  });

  it("loads a finished deploy's log once, without a connection", async () => {
    saveToken("t");
    vi.stubGlobal("fetch", vi.fn(async () => json({ deploy_id: "d1", state: "ready", lines: [line(0)] })));
    const openSocket = vi.fn();
    const { result } = renderHook(() => useDeployLog("d1", false, { openSocket }));
    expect(result.current.status).toBe("loading");
    await waitFor(() => expect(result.current.status).toBe("loaded"));
    expect(result.current.lines).toHaveLength(1);
    expect(openSocket).not.toHaveBeenCalled();
  });
});

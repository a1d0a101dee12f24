import { act, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Site, SiteFunctions } from "@/lib/api/types";
import { saveToken } from "@/lib/session";
import { SiteFunctionsView } from "./SiteFunctionsView";

const site = { id: "s1", name: "blog", build_settings: { provider: "" } } as Site;

const listed: SiteFunctions = {
  site_id: "s1",
  deploy_id: "d1",
  window_seconds: 3600,
  functions: [
    {
      name: "hello",
      routes: ["/.netlify/functions/hello", "/api/hello"],
      runtime: "js",
      sha256: "a".repeat(64),
      size: 2048,
      invocations: 6,
      errors: 2,
      p50_ms: 5,
      p99_ms: 50,
    },
    {
      name: "items",
      routes: ["/api/items/:id"],
      runtime: "js",
      sha256: "b".repeat(64),
      size: 100,
      invocations: 0,
      errors: 0,
      p50_ms: 0,
      p99_ms: 0,
    },
  ],
};

// The browser's WebSocket, recorded: each instance can be fed messages.
class FakeSocket {
  static opened: FakeSocket[] = [];
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  closed = false;
  constructor(
    public url: string,
    public protocols: string[],
  ) {
    FakeSocket.opened.push(this);
  }
  close() {
    this.closed = true;
  }
}

afterEach(() => {
  vi.unstubAllGlobals();
  FakeSocket.opened = [];
});

describe("SiteFunctionsView", () => {
  it("lists the functions with their calls and follows the selected one's log", async () => {
    saveToken("t");
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response(JSON.stringify(listed), { status: 200 })),
    );
    vi.stubGlobal("WebSocket", FakeSocket);
    render(<SiteFunctionsView site={site} />);

    const table = await screen.findByRole("table", { name: "Functions" });
    const hello = within(table).getByRole("button", { name: "hello" }).closest("tr")!;
    expect(within(hello as HTMLElement).getByText("6")).toBeInTheDocument();
    expect(within(hello as HTMLElement).getByText("2")).toBeInTheDocument();
    expect(within(hello as HTMLElement).getByText("≤ 5 ms / ≤ 50 ms")).toBeInTheDocument();
    expect(within(table).getByText("/api/items/:id")).toBeInTheDocument();

    // The first function's log is followed at once, with the token as a subprotocol.
    expect(FakeSocket.opened).toHaveLength(1);
    const socket = FakeSocket.opened[0]!;
    expect(socket.url).toMatch(/\/api\/v1\/sites\/blog\/functions\/hello\/log\/stream$/);
    expect(socket.protocols).toEqual(["replideploy.log.v1", "bearer.t"]);
    act(() => {
      socket.onopen?.({});
      socket.onmessage?.({
        data: JSON.stringify({
          type: "lines",
          lines: [
            { n: 0, ts: "2026-12-07T03:37:47.431Z", stream: "stdout", request_id: "r1", line: "hello ****" },
            { n: 1, ts: "2026-12-07T03:37:47.500Z", stream: "platform", request_id: "r2", line: "502: the function threw" },
          ],
        }),
      });
    });
    const log = screen.getByRole("region", { name: "Log of hello" });
    expect(within(log).getByText("hello ****")).toBeInTheDocument();
    expect(within(log).getByText("502: the function threw")).toBeInTheDocument();
    expect(screen.getByTestId("function-log-status")).toHaveTextContent("Live");

    // Another function: its own stream, the old one closed.
    await userEvent.click(within(table).getByRole("button", { name: "items" }));
    expect(socket.closed).toBe(true);
    expect(FakeSocket.opened[1]!.url).toMatch(/\/functions\/items\/log\/stream$/);
    expect(screen.getByRole("region", { name: "Log of items" })).toHaveTextContent("No lines yet");
  });

  it("says when nothing is published", async () => {
    saveToken("t");
    vi.stubGlobal(
      "fetch",
      vi.fn(
        async () =>
          new Response(JSON.stringify({ ...listed, deploy_id: null, functions: [] }), { status: 200 }),
      ),
    );
    render(<SiteFunctionsView site={site} />);
    expect(await screen.findByText("Nothing is published yet.")).toBeInTheDocument();
  });
});

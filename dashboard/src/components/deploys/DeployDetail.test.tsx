import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Deploy, LogLine, Site } from "@/lib/api/types";
import type { LogSocket } from "@/lib/deploy_log_stream";
import { loadToken, saveToken, takeLoginNotice } from "@/lib/session";
import { DeployDetail } from "./DeployDetail";

const site = { id: "s1", name: "blog", build_settings: { provider: "" } } as Site;

function deploy(change: Partial<Deploy>): Deploy {
  return {
    id: "d1",
    site_id: "s1",
    state: "building",
    context: "production",
    branch: "main",
    title: "Add pricing",
    commit_ref: "abcdef0123456789",
    commit_url: null,
    review_id: null,
    review_url: null,
    published: false,
    locked: false,
    build_id: "job1",
    deploy_source: "git",
    deploy_time: null,
    file_count: 0,
    created_at: "2026-11-25T10:00:00.000Z",
    deploy_url: "http://d1--blog.localhost:8080",
    error_message: null,
    links: { permalink: "http://d1--blog.localhost:8080" },
    ...change,
  } as Deploy;
}

class FakeSocket implements LogSocket {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}
  close() {}
  send(message: unknown) {
    act(() => this.onmessage?.({ data: JSON.stringify(message) }));
  }
}

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const logLines: LogLine[] = [
  { n: 0, ts: "2026-11-25T10:00:00.000Z", stream: "info", line: "Cloning" },
  { n: 1, ts: "2026-11-25T10:00:01.000Z", stream: "stdout", line: "\u001b[32mstep 1\u001b[39m" },
];

beforeEach(() => {
  saveToken("t");
  window.history.pushState({}, "", "/sites/blog/deploys/d1/");
});
afterEach(() => {
  vi.unstubAllGlobals();
  window.history.pushState({}, "", "/");
});

describe("DeployDetail", () => {
  it("follows a running build live, then shows the finished deploy", async () => {
    let current = deploy({});
    const fetch = vi.fn(async (url: string) => {
      if (url === "/api/v1/deploys/d1") return json(current);
      throw new Error("unexpected " + url);
    });
    vi.stubGlobal("fetch", fetch);
    const sockets: FakeSocket[] = [];
    render(
      <DeployDetail
        site={site}
        openSocket={(url, protocols) => {
          const s = new FakeSocket(url, protocols);
          sockets.push(s);
          return s;
        }}
      />,
    );

    expect(await screen.findByRole("heading", { name: "Add pricing" })).toBeInTheDocument();
    await waitFor(() => expect(sockets).toHaveLength(1));
    expect(sockets[0]!.url).toMatch(/^ws:\/\/[^/]+\/api\/v1\/deploys\/d1\/log\/stream$/);
    expect(sockets[0]!.protocols).toEqual(["replideploy.log.v1", "bearer.t"]);
    act(() => sockets[0]!.onopen?.({}));
    expect(screen.getByTestId("log-connection")).toHaveTextContent("Live");

    sockets[0]!.send({ type: "lines", lines: [logLines[0]] });
    expect(screen.getByText("Cloning")).toBeInTheDocument();
    expect(screen.queryByText("step 1")).toBeNull();
    sockets[0]!.send({ type: "lines", lines: logLines }); // one new, one again
    expect(screen.getAllByRole("listitem")).toHaveLength(2);
    expect(screen.getByText("step 1")).toBeInTheDocument();

    sockets[0]!.send({ type: "state", state: "processing" });
    expect(within(screen.getByTestId("deploy-state")).getByText("Processing")).toBeInTheDocument();

    current = deploy({ state: "ready", deploy_time: 42, published: true });
    sockets[0]!.send({ type: "end", state: "ready" });
    expect(await within(screen.getByTestId("deploy-state")).findByText("Ready")).toBeInTheDocument();
    expect(await screen.findByText("42s")).toBeInTheDocument();
    expect(screen.queryByTestId("log-connection")).toBeNull();
    expect(screen.queryByRole("button", { name: "Cancel deploy" })).toBeNull();
  });

  it("lists the rules the deploy skipped, with file, line and reason", async () => {
    const ready = deploy({
      state: "ready",
      published: true,
      summary: {
        status: "ready",
        messages: [
          {
            type: "warning",
            title: "Rule skipped in _redirects line 1",
            description: "_redirects:1: missing destination",
            details: "/r 307",
            file: "_redirects",
            line: 1,
          },
        ],
      },
    });
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        if (url === "/api/v1/deploys/d1") return json(ready);
        if (url === "/api/v1/deploys/d1/log") return json({ deploy_id: "d1", state: "ready", lines: [] });
        throw new Error("unexpected " + url);
      }),
    );
    render(<DeployDetail site={site} openSocket={vi.fn()} />);
    const list = await screen.findByRole("list", { name: "Deploy warnings" });
    expect(within(list).getByText("_redirects:1: missing destination")).toBeInTheDocument();
    expect(within(list).getByText("/r 307")).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "1 warning" })).toBeInTheDocument();
  });

  it("shows no warnings card for a deploy without messages", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        if (url === "/api/v1/deploys/d1") return json(deploy({ state: "ready", summary: { status: "ready", messages: [] } }));
        if (url === "/api/v1/deploys/d1/log") return json({ deploy_id: "d1", state: "ready", lines: [] });
        throw new Error("unexpected " + url);
      }),
    );
    render(<DeployDetail site={site} openSocket={vi.fn()} />);
    expect(await screen.findByRole("heading", { name: "Add pricing" })).toBeInTheDocument();
    expect(screen.queryByRole("list", { name: "Deploy warnings" })).toBeNull();
  });

  it("loads the log of a finished deploy once, and downloads it as text", async () => {
    const fetch = vi.fn(async (url: string) => {
      if (url === "/api/v1/deploys/d1") return json(deploy({ state: "error", error_message: "exit 1" }));
      if (url === "/api/v1/deploys/d1/log") return json({ deploy_id: "d1", state: "error", lines: logLines });
      throw new Error("unexpected " + url);
    });
    vi.stubGlobal("fetch", fetch);
    const blobs: Blob[] = [];
    URL.createObjectURL = vi.fn((b: Blob) => {
      blobs.push(b);
      return "blob:log";
    });
    URL.revokeObjectURL = vi.fn();
    const anchors: { download: string; href: string }[] = [];
    const clicked = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      anchors.push({ download: this.download, href: this.href });
    });
    const openSocket = vi.fn();

    render(<DeployDetail site={site} openSocket={openSocket} />);
    expect(await screen.findByText("step 1")).toBeInTheDocument();
    expect(screen.getByText("exit 1")).toBeInTheDocument();
    expect(openSocket).not.toHaveBeenCalled();

    await userEvent.click(screen.getByRole("button", { name: "Download log" }));
    await waitFor(() => expect(clicked).toHaveBeenCalledOnce());
    expect(anchors).toEqual([{ download: "blog-deploy-d1.log", href: "blob:log" }]);
    expect(await blobs[0]!.text()).toBe(
      "2026-11-25T10:00:00.000Z info   Cloning\n2026-11-25T10:00:01.000Z stdout step 1\n",
    );
    clicked.mockRestore();
  });

  it("a stream closed with 4401 ends the session", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => json(deploy({}))));
    const sockets: FakeSocket[] = [];
    render(
      <DeployDetail
        site={site}
        openSocket={(url, protocols) => {
          const s = new FakeSocket(url, protocols);
          sockets.push(s);
          return s;
        }}
      />,
    );
    await waitFor(() => expect(sockets).toHaveLength(1));
    const assign = vi.fn();
    vi.stubGlobal("location", { ...window.location, assign, pathname: "/sites/blog/deploys/d1/", search: "" });
    act(() => sockets[0]!.onclose?.({ code: 4401 }));
    expect(loadToken()).toBeNull();
    expect(takeLoginNotice()).toBe("Your session expired, please log in again");
    expect(assign).toHaveBeenCalledWith("/login/?next=%2Fsites%2Fblog%2Fdeploys%2Fd1%2F");
  });

  it("says when the deploy does not exist", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => json({ error: { code: "not_found", message: "deploy not found" } }, 404)));
    render(<DeployDetail site={site} openSocket={vi.fn()} />);
    expect(await screen.findByText("Deploy not found")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: /All deploys/ })).toHaveAttribute("href", "/sites/blog/deploys/");
  });
});

import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Deploy, RulesTestResult, Site } from "@/lib/api/types";
import { saveToken } from "@/lib/session";
import { RulesPanel } from "./RulesPanel";

const site = { id: "s1", name: "blog" } as Site;
const deploy = { id: "d1", site_id: "s1", state: "ready" } as Deploy;

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const answer: RulesTestResult = {
  deploy_id: "d1",
  request: { method: "GET", host: "blog.localhost", target: "/news/a", path: "/news/a" },
  redirects: [
    { source: "_redirects:1", rule: "/old /new 301", outcome: "not_matched", reason: "the path does not match /old" },
    { source: "_redirects:2", rule: "/news/* /blog/:splat 302", outcome: "matched", reason: "no file answers the path" },
    { source: "_redirects:3", rule: "/* /index.html 200", outcome: "not_reached", reason: "an earlier rule answered" },
  ],
  headers: [{ source: "_headers:1", for: "/*", applies: true, values: [{ name: "X-Frame-Options", value: "DENY" }] }],
  static_file: null,
  answer: {
    kind: "redirect",
    status: 302,
    location: "/blog/a",
    rewrite: null,
    proxy: null,
    file: null,
    headers: [{ name: "X-Frame-Options", value: "DENY" }],
  },
  summary: "302 redirect to /blog/a by _redirects:2",
};

beforeEach(() => saveToken("t"));
afterEach(() => vi.unstubAllGlobals());

describe("RulesPanel", () => {
  it("sends the path and the visitor, and shows each rule's outcome and the answer", async () => {
    const fetch = vi.fn(async (url: string, init?: RequestInit) => {
      expect(url).toBe("/api/v1/sites/blog/rules/test");
      expect(init?.method).toBe("POST");
      expect(JSON.parse(String(init?.body))).toEqual({
        url: "/news/a",
        deploy_id: "d1",
        country: "de",
        roles: ["admin", "editor"],
      });
      return json(answer);
    });
    vi.stubGlobal("fetch", fetch);
    const user = userEvent.setup();
    render(<RulesPanel site={site} deploy={deploy} />);

    const path = screen.getByLabelText(/Path or URL/);
    await user.clear(path);
    await user.type(path, "/news/a");
    await user.click(screen.getByText(/Visitor:/));
    await user.type(screen.getByLabelText("Country"), "de");
    await user.type(screen.getByLabelText("Roles"), "admin, editor,");
    await user.click(screen.getByRole("button", { name: "Test" }));

    expect(await screen.findByTestId("rules-summary")).toHaveTextContent("302 redirect to /blog/a by _redirects:2");
    expect(screen.getByText("Location: /blog/a")).toBeInTheDocument();
    const rules = within(screen.getByRole("list", { name: "Redirect rules" })).getAllByRole("listitem");
    expect(rules).toHaveLength(3);
    expect(rules[0]).toHaveTextContent("Not matched");
    expect(rules[0]).toHaveTextContent("the path does not match /old");
    expect(rules[1]).toHaveTextContent("Matched");
    expect(rules[2]).toHaveTextContent("Not reached");
    expect(within(screen.getByRole("list", { name: "Headers from rules" })).getByText("X-Frame-Options: DENY")).toBeInTheDocument();
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("shows the API's error next to the path", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => json({ error: { code: "bad_request", message: "url: give a path (/about) or an http(s) URL" } }, 400)),
    );
    const user = userEvent.setup();
    render(<RulesPanel site={site} deploy={deploy} />);
    const path = screen.getByLabelText(/Path or URL/);
    await user.clear(path);
    await user.type(path, "old");
    await user.click(screen.getByRole("button", { name: "Test" }));
    expect(await screen.findByText(/give a path/)).toBeInTheDocument();
    expect(screen.queryByTestId("rules-summary")).toBeNull();
  });
});

import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { LoginSessionInfo } from "@/lib/api/types";
import { loadToken, saveToken } from "@/lib/session";
import { SessionsCard, describeUserAgent } from "./SessionsCard";

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const kFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const kChrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

function session(id: string, current: boolean, ua: string, address: string): LoginSessionInfo {
  const t = "2026-12-01T10:00:00.000Z";
  return { id, current, created_at: t, last_seen_at: t, expires_at: t, client_address: address, user_agent: ua };
}

// A fake sessions API; DELETE and logout take the session out of the list.
function fakeSessionsApi(sessions: LoginSessionInfo[]) {
  const calls: string[] = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const method = init.method ?? "GET";
    calls.push(`${method} ${url}`);
    if (method === "GET" && url === "/api/v1/user/sessions") return json(sessions);
    if (method === "DELETE") {
      sessions.splice(sessions.findIndex((s) => url.endsWith("/" + s.id)), 1);
      return new Response(null, { status: 204 });
    }
    if (method === "POST" && url === "/auth/logout") return new Response(null, { status: 204 });
    throw new Error("unexpected " + method + " " + url);
  });
  vi.stubGlobal("fetch", fetch);
  return calls;
}

afterEach(() => vi.unstubAllGlobals());

describe("SessionsCard", () => {
  it("lists sessions with browser, address and this browser marked; ends another one", async () => {
    saveToken("t");
    const calls = fakeSessionsApi([session("s1", true, kFirefox, "203.0.113.5"), session("s2", false, kChrome, "198.51.100.7")]);
    render(<SessionsCard navigate={vi.fn()} />);
    const list = await screen.findByRole("list", { name: "Sessions" });
    const items = within(list).getAllByRole("listitem");
    expect(items).toHaveLength(2);
    expect(items[0]).toHaveTextContent("Firefox on Linux");
    expect(items[0]).toHaveTextContent("This browser");
    expect(items[1]).toHaveTextContent("Chrome on Windows");
    expect(items[1]).toHaveTextContent("198.51.100.7");

    await userEvent.click(screen.getByRole("button", { name: "End session Chrome on Windows from 198.51.100.7" }));
    await waitFor(() => expect(within(list).getAllByRole("listitem")).toHaveLength(1));
    expect(calls).toContain("DELETE /api/v1/user/sessions/s2");
    expect(loadToken()).toBe("t");
  });

  it("signs out of this browser: logs out on the server, forgets the token, goes to the login page", async () => {
    saveToken("t");
    const calls = fakeSessionsApi([session("s1", true, kFirefox, "203.0.113.5")]);
    const navigate = vi.fn();
    render(<SessionsCard navigate={navigate} />);
    await userEvent.click(await screen.findByRole("button", { name: "Sign out of this browser" }));
    await waitFor(() => expect(navigate).toHaveBeenCalledWith("/login/"));
    expect(calls).toContain("POST /auth/logout");
    expect(loadToken()).toBeNull();
  });

  it("names browsers it knows and keeps other user agents short", () => {
    expect(describeUserAgent("")).toBe("Unknown client");
    expect(describeUserAgent("curl/8.5.0")).toBe("curl/8.5.0");
    expect(describeUserAgent("x".repeat(100))).toHaveLength(58);
  });
});

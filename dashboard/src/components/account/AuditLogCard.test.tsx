import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { AuditEvent } from "@/lib/api/types";
import { saveToken } from "@/lib/session";
import { AuditLogCard } from "./AuditLogCard";

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function event(id: string, action: string, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id,
    action,
    created_at: "2026-12-01T10:00:00.000Z",
    actor: { user_id: "u1", credential: "session", credential_id: "s1" },
    client_address: "203.0.113.5",
    user_agent: "",
    target: "",
    details: {},
    ...extra,
  };
}

afterEach(() => vi.unstubAllGlobals());

describe("AuditLogCard", () => {
  it("shows events in words, failed logins with their address, and loads older pages", async () => {
    saveToken("t");
    const urls: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        urls.push(url);
        if (!url.includes("before=")) {
          return json({
            events: [
              event("e3", "token.created", { target: "t1", details: { name: "ci", scopes: ["read", "deploy"] } }),
              event("e2", "login.failed", {
                actor: { user_id: null, credential: null, credential_id: null },
                client_address: "198.51.100.7",
              }),
            ],
            next_before: "e2",
          });
        }
        return json({ events: [event("e1", "deploy.rolled_back", { target: "d1", actor: { user_id: "u1", credential: "api_token", credential_id: "t1" } })], next_before: null });
      }),
    );
    render(<AuditLogCard />);
    const log = await screen.findByRole("list", { name: "Security log" });
    const items = within(log).getAllByRole("listitem");
    expect(items[0]).toHaveTextContent("API token created · ci");
    expect(items[1]).toHaveTextContent("Failed login");
    expect(items[1]).toHaveTextContent("198.51.100.7");
    expect(urls[0]).toBe("/api/v1/audit?limit=25");

    await userEvent.click(screen.getByRole("button", { name: "Show older events" }));
    await waitFor(() => expect(within(log).getAllByRole("listitem")).toHaveLength(3));
    expect(urls[1]).toBe("/api/v1/audit?limit=25&before=e2");
    expect(within(log).getAllByRole("listitem")[2]).toHaveTextContent("Rolled back · d1 (with an API token)");
    expect(screen.queryByRole("button", { name: "Show older events" })).toBeNull();
  });
});

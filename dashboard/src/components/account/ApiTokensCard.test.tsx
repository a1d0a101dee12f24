import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { ApiToken } from "@/lib/api/types";
import { saveToken } from "@/lib/session";
import { ApiTokensCard } from "./ApiTokensCard";

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

afterEach(() => vi.unstubAllGlobals());

describe("ApiTokensCard", () => {
  it("creates a token with the ticked scopes and expiry, and lists scopes and expiry", async () => {
    saveToken("t");
    const tokens: ApiToken[] = [
      { id: "t0", name: "old", created_at: "2026-11-01T10:00:00.000Z", last_used_at: null, scopes: ["read", "deploy", "sites", "account"], expires_at: null },
    ];
    const posted: unknown[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (_url: string, init: RequestInit) => {
        if (init.method === "POST") {
          const body = JSON.parse(init.body as string) as { name: string; scopes: ApiToken["scopes"] };
          posted.push(body);
          const created = { id: "t1", name: body.name, created_at: "2026-12-01T10:00:00.000Z", last_used_at: null, scopes: body.scopes, expires_at: "2027-01-01T10:00:00.000Z" };
          tokens.unshift(created);
          return json({ ...created, token: "rdp_secret" }, 201);
        }
        return json(tokens);
      }),
    );
    render(<ApiTokensCard />);
    const list = await screen.findByRole("list", { name: "API tokens" });
    expect(within(list).getByText(/full access/)).toBeInTheDocument();
    expect(within(list).getByText(/never expires/)).toBeInTheDocument();

    await userEvent.type(screen.getByLabelText("Token name"), "ci");
    await userEvent.click(screen.getByLabelText("Sites")); // deploy is ticked already
    await userEvent.selectOptions(screen.getByLabelText("Expires after"), "30");
    await userEvent.click(screen.getByRole("button", { name: "Create token" }));

    expect(await screen.findByText(/shown only this once/)).toBeInTheDocument();
    expect(posted).toEqual([{ name: "ci", scopes: ["read", "deploy", "sites"], expires_in_days: 30 }]);
    expect(await within(list).findByText(/read, deploy, sites/)).toBeInTheDocument();
  });
});

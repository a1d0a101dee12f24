import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Domain, Site } from "@/lib/api/types";
import { saveToken } from "@/lib/session";
import { DomainsCard } from "./DomainsCard";

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const site = { id: "s1", name: "blog" } as Site;

function domain(name: string, extra: Partial<Domain> = {}): Domain {
  return {
    id: `id-${name}`,
    name,
    site_id: "s1",
    primary: true,
    pair: null,
    redirect_to: null,
    state: "pending_dns",
    state_reason: "",
    check_attempts: 0,
    next_check_at: null,
    verified_at: null,
    dns_records: [{ name, type: "CNAME", value: "blog.localhost" }],
    dns_report: null,
    ownership_record: { name: `_replideploy-challenge.${name}`, type: "TXT", value: "rd-x" },
    created_at: "2026-12-06T00:00:00.000Z",
    updated_at: "2026-12-06T00:00:00.000Z",
    ...extra,
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
});

describe("DomainsCard", () => {
  it("adds a domain and shows the record to create and its state", async () => {
    saveToken("t");
    let list: Domain[] = [];
    const calls: { method: string; url: string; body: unknown }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init: RequestInit) => {
        const method = init.method ?? "GET";
        calls.push({ method, url, body: init.body ? JSON.parse(String(init.body)) : null });
        if (method === "POST") {
          list = [domain("www.example.com")];
          return json(list[0], 201);
        }
        return json(list);
      }),
    );
    const onChanged = vi.fn(async () => {});
    render(<DomainsCard site={site} onChanged={onChanged} />);
    expect(await screen.findByText("No custom domains yet")).toBeVisible();
    await userEvent.type(screen.getByLabelText("Domain"), "www.example.com");
    await userEvent.click(screen.getByRole("button", { name: "Add domain" }));
    await waitFor(() => expect(onChanged).toHaveBeenCalled());
    expect(calls).toContainEqual({ method: "POST", url: "/api/v1/sites/s1/domains", body: { name: "www.example.com" } });
    const item = await screen.findByText("www.example.com", { selector: "span" });
    const row = item.closest("li") as HTMLElement;
    expect(within(row).getByText("Waiting for DNS")).toBeVisible();
    expect(within(row).getByTestId("dns-value")).toHaveTextContent("blog.localhost");
    expect(within(row).getByRole("button", { name: "Copy CNAME value for www.example.com" })).toBeVisible();
  });

  it("shows the server's refusal and the last check's findings", async () => {
    saveToken("t");
    const pending = domain("shop.example.com", {
      state_reason: "shop.example.com has CNAME other.example.net, expected blog.localhost",
      dns_report: {
        ok: false,
        reason: "x",
        checked_at: 0,
        records: [
          { name: "shop.example.com", type: "CNAME", expected: ["blog.localhost"], found: ["other.example.net"], ok: false, note: "" },
        ],
      },
    });
    vi.stubGlobal(
      "fetch",
      vi.fn(async (_url: string, init: RequestInit) =>
        (init.method ?? "GET") === "POST"
          ? json({ error: { code: "domain_taken", message: "create a TXT record _replideploy-challenge.x" } }, 409)
          : json([pending]),
      ),
    );
    render(<DomainsCard site={site} onChanged={async () => {}} />);
    expect(await screen.findByTestId("domain-reason")).toHaveTextContent("has CNAME other.example.net");
    expect(screen.getByText(/found other.example.net, expected blog.localhost/)).toBeInTheDocument();
    await userEvent.type(screen.getByLabelText("Domain"), "x.example.com");
    await userEvent.click(screen.getByRole("button", { name: "Add domain" }));
    expect(await screen.findByText(/_replideploy-challenge.x/)).toBeVisible();
  });
});

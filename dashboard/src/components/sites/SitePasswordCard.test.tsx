import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Site } from "@/lib/api/types";
import { saveToken } from "@/lib/session";
import { SitePasswordCard } from "./SitePasswordCard";

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function siteWith(has_password: boolean, password_scope: Site["password_scope"]): Site {
  return { id: "s1", name: "blog", has_password, password_scope } as Site;
}

afterEach(() => {
  vi.unstubAllGlobals();
  localStorage.clear();
});

describe("SitePasswordCard", () => {
  it("turns protection on for the chosen deploys and says so", async () => {
    saveToken("t");
    const calls: { method: string; url: string; body: unknown }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init: RequestInit) => {
        calls.push({ method: init.method ?? "GET", url, body: JSON.parse(String(init.body)) });
        return json(siteWith(true, "non_production"));
      }),
    );
    const onChanged = vi.fn(async () => {});
    render(<SitePasswordCard site={siteWith(false, "none")} onChanged={onChanged} />);
    expect(screen.getByTestId("password-state")).toHaveTextContent("Off");

    await userEvent.type(screen.getByLabelText("Password"), "open sesame");
    await userEvent.selectOptions(screen.getByLabelText("Protect"), "non_production");
    await userEvent.click(screen.getByRole("button", { name: "Turn on password protection" }));

    await waitFor(() => expect(onChanged).toHaveBeenCalled());
    expect(calls).toEqual([
      { method: "PUT", url: "/api/v1/sites/s1/password", body: { password: "open sesame", scope: "non_production" } },
    ]);
    expect(await screen.findByText(/Deploy previews, branch deploys and permalinks now ask for it/)).toBeVisible();
    expect(screen.getByLabelText("Password")).toHaveValue("");
  });

  it("asks for a password before sending anything, and shows the server's refusal", async () => {
    saveToken("t");
    const fetch = vi.fn(async () =>
      json({ error: { code: "invalid_password", message: "password must be at most 256 bytes" } }, 422),
    );
    vi.stubGlobal("fetch", fetch);
    render(<SitePasswordCard site={siteWith(false, "none")} onChanged={async () => {}} />);
    await userEvent.click(screen.getByRole("button", { name: "Turn on password protection" }));
    expect(await screen.findByText("Enter a password")).toBeVisible();
    expect(fetch).not.toHaveBeenCalled();

    await userEvent.type(screen.getByLabelText("Password"), "x");
    await userEvent.click(screen.getByRole("button", { name: "Turn on password protection" }));
    expect(await screen.findByText(/at most 256 bytes/)).toBeVisible();
  });

  it("removes the password after a confirmation", async () => {
    saveToken("t");
    const calls: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init: RequestInit) => {
        calls.push(`${init.method} ${url}`);
        return new Response(null, { status: 204 });
      }),
    );
    const onChanged = vi.fn(async () => {});
    render(<SitePasswordCard site={siteWith(true, "all")} onChanged={onChanged} />);
    expect(screen.getByTestId("password-state")).toHaveTextContent("On for every deploy");
    await userEvent.click(screen.getByRole("button", { name: "Remove password" }));
    expect(calls).toEqual([]);
    // The dialog's button is the second one with that name.
    const buttons = screen.getAllByRole("button", { name: "Remove password" });
    await userEvent.click(buttons[buttons.length - 1]!);
    await waitFor(() => expect(calls).toEqual(["DELETE /api/v1/sites/s1/password"]));
    expect(onChanged).toHaveBeenCalled();
    expect(await screen.findByText(/The site is open to everyone/)).toBeVisible();
  });
});

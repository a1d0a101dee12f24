import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { loadToken, saveToken } from "@/lib/session";
import { ChangePasswordForm } from "./ChangePasswordForm";

function json(body: unknown, status = 200, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

afterEach(() => vi.unstubAllGlobals());

describe("ChangePasswordForm", () => {
  it("sends both passwords and says the other sessions were signed out", async () => {
    saveToken("t");
    const fetch = vi.fn(async (_url: string, _init: RequestInit) => new Response(null, { status: 204 }));
    vi.stubGlobal("fetch", fetch);
    render(<ChangePasswordForm />);
    await userEvent.type(screen.getByLabelText(/Current password/), "old-password");
    await userEvent.type(screen.getByLabelText(/New password/), "new-password-1");
    await userEvent.click(screen.getByRole("button", { name: "Change password" }));

    expect(await screen.findByText(/other sessions were signed out/)).toBeInTheDocument();
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe("/api/v1/user/password");
    expect(init.method).toBe("PUT");
    expect(JSON.parse(init.body as string)).toEqual({ current_password: "old-password", new_password: "new-password-1" });
    expect(screen.getByLabelText(/Current password/)).toHaveValue("");
    expect(loadToken()).toBe("t");
  });

  it("puts a wrong current password and a short new one next to their fields", async () => {
    saveToken("t");
    const answers = [
      json({ error: { code: "invalid_current_password", message: "current_password is not your current password" } }, 422),
      json({ error: { code: "password_too_short", message: "password must be at least 8 characters" } }, 422),
    ];
    vi.stubGlobal("fetch", vi.fn(async () => answers.shift()));
    render(<ChangePasswordForm />);
    await userEvent.type(screen.getByLabelText(/Current password/), "wrong");
    await userEvent.type(screen.getByLabelText(/New password/), "x");
    await userEvent.click(screen.getByRole("button", { name: "Change password" }));
    const current = screen.getByLabelText(/Current password/);
    await waitFor(() => expect(current).toHaveAttribute("aria-invalid", "true"));
    expect(current).toHaveFocus();

    await userEvent.click(screen.getByRole("button", { name: "Change password" }));
    const next = screen.getByLabelText(/New password/);
    await waitFor(() => expect(next).toHaveAttribute("aria-invalid", "true"));
    expect(next).toHaveAccessibleDescription(/Password must be at least 8 characters/);
  });

  it("shows the wait after too many wrong current passwords", async () => {
    saveToken("t");
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => json({ error: { code: "rate_limited", message: "too many failed logins; try again in 2 s" } }, 429, { "Retry-After": "2" })),
    );
    render(<ChangePasswordForm />);
    await userEvent.type(screen.getByLabelText(/Current password/), "guess-guess");
    await userEvent.type(screen.getByLabelText(/New password/), "new-password-1{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent("Too many failed logins; try again in 2 s");
  });
});

import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { kSessionExpiredNotice, loadToken, setLoginNotice } from "@/lib/session";
import { LoginForm } from "./LoginForm";
import { RegisterForm } from "./RegisterForm";

function answer(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

afterEach(() => vi.unstubAllGlobals());

describe("LoginForm", () => {
  it("shows the API's field error next to the field, and focuses it", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => answer(400, { error: { code: "bad_request", message: "password is required" } })));
    render(<LoginForm />);
    await userEvent.type(screen.getByLabelText(/Email/), "me@example.com");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));

    const password = screen.getByLabelText(/Password/);
    await waitFor(() => expect(password).toHaveAttribute("aria-invalid", "true"));
    expect(password).toHaveAccessibleDescription("Password is required");
    expect(password).toHaveFocus();
    expect(screen.getByLabelText(/Email/)).not.toHaveAttribute("aria-invalid");
  });

  it("shows wrong credentials and rate limiting for the whole form", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () =>
        answer(429, { error: { code: "rate_limited", message: "too many failed logins; try again in 4 s" } }, { "Retry-After": "4" }),
      ),
    );
    render(<LoginForm />);
    await userEvent.type(screen.getByLabelText(/Email/), "me@example.com");
    await userEvent.type(screen.getByLabelText(/Password/), "wrong-password{Enter}");
    expect(await screen.findByRole("alert")).toHaveTextContent("Too many failed logins; try again in 4 s");
    expect(loadToken()).toBeNull();
  });

  it("says why the user was sent back to log in", async () => {
    setLoginNotice(kSessionExpiredNotice);
    render(<LoginForm />);
    expect(await screen.findByText(kSessionExpiredNotice)).toBeInTheDocument();
  });
});

describe("RegisterForm", () => {
  it("puts 422 and 409 codes on the email and password fields", async () => {
    // The form first asks how registration works (GET /auth/registration), then posts.
    const posts = [
      answer(422, { error: { code: "password_too_short", message: "password must be at least 8 characters" } }),
      answer(409, { error: { code: "email_taken", message: "an account with this email already exists" } }),
    ];
    const fetch = vi.fn((url: string) =>
      Promise.resolve(String(url).endsWith("/auth/registration") ? answer(200, { mode: "open" }) : posts.shift()),
    );
    vi.stubGlobal("fetch", fetch);
    render(<RegisterForm />);
    await userEvent.type(screen.getByLabelText(/Email/), "me@example.com");
    await userEvent.type(screen.getByLabelText(/Password/), "short{Enter}");
    await waitFor(() =>
      expect(screen.getByLabelText(/Password/)).toHaveAccessibleDescription(
        "At least 8 characters Password must be at least 8 characters",
      ),
    );

    await userEvent.clear(screen.getByLabelText(/Password/));
    await userEvent.type(screen.getByLabelText(/Password/), "long enough{Enter}");
    await waitFor(() =>
      expect(screen.getByLabelText(/Email/)).toHaveAccessibleDescription("An account with this email already exists"),
    );
    expect(screen.getByLabelText(/Password/)).not.toHaveAttribute("aria-invalid");
  });
});

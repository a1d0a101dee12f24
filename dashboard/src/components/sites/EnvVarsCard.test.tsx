import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { EnvVar, Site } from "@/lib/api/types";
import { saveToken } from "@/lib/session";
import { EnvVarsCard } from "./EnvVarsCard";

const site = { id: "s1", name: "blog" } as Site;

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

// A fake env API keeping the variables in a list.
function fakeEnvApi(vars: EnvVar[]) {
  const calls: { method: string; url: string; body: unknown }[] = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const method = init.method ?? "GET";
    const body = typeof init.body === "string" ? JSON.parse(init.body) : undefined;
    calls.push({ method, url, body });
    if (method === "GET") return json(vars);
    const key = decodeURIComponent(url.split("/env/")[1] ?? "");
    if (method === "PUT") {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
        return json(
          { error: { code: "invalid_env_key", message: "key must be letters, digits and '_', not starting with a digit" } },
          422,
        );
      }
      const b = body as { value: string; context: string };
      const existing = vars.find((v) => v.key === key);
      if (existing) existing.values = [...existing.values.filter((v) => v.context !== b.context), b];
      else vars.push({ key, values: [{ context: b.context, value: b.value }] });
      return json({ key, context: b.context });
    }
    if (method === "DELETE") {
      vars.splice(vars.findIndex((v) => v.key === key), 1);
      return new Response(null, { status: 204 });
    }
    throw new Error("unexpected " + method + " " + url);
  });
  vi.stubGlobal("fetch", fetch);
  return calls;
}

afterEach(() => vi.unstubAllGlobals());

describe("EnvVarsCard", () => {
  it("hides values until revealed, one variable at a time", async () => {
    saveToken("t");
    fakeEnvApi([
      { key: "API_KEY", values: [{ context: "all", value: "s3cret-value" }] },
      { key: "OTHER", values: [{ context: "production", value: "prod-only" }] },
    ]);
    render(<EnvVarsCard site={site} />);
    const row = (await screen.findByText("API_KEY")).closest("[data-env-key]") as HTMLElement;
    expect(screen.queryByText("s3cret-value")).toBeNull();
    expect(screen.queryByText("prod-only")).toBeNull();
    expect(within(row).getByText("hidden value")).toBeInTheDocument();

    const reveal = screen.getByRole("button", { name: "Reveal value of API_KEY" });
    expect(reveal).toHaveAttribute("aria-pressed", "false");
    await userEvent.click(reveal);
    expect(within(row).getByText("s3cret-value")).toBeInTheDocument();
    expect(screen.queryByText("prod-only")).toBeNull(); // the other stays hidden
    expect(screen.getByRole("button", { name: "Hide value of API_KEY" })).toHaveAttribute("aria-pressed", "true");

    await userEvent.click(screen.getByRole("button", { name: "Hide value of API_KEY" }));
    expect(screen.queryByText("s3cret-value")).toBeNull();
    expect(within(screen.getByRole("list", { name: "Environment variables" })).getByText("Production")).toBeInTheDocument();
  });

  it("saves a new variable from the keyboard and lists it hidden", async () => {
    saveToken("t");
    const calls = fakeEnvApi([]);
    render(<EnvVarsCard site={site} />);
    expect(await screen.findByText("No environment variables yet.")).toBeInTheDocument();

    await userEvent.type(screen.getByLabelText("Key"), "DATABASE_URL");
    await userEvent.type(screen.getByLabelText("Value"), "postgres://x");
    await userEvent.selectOptions(screen.getByLabelText("Deploy context"), "deploy-preview");
    await userEvent.type(screen.getByLabelText("Value"), "{Enter}");

    expect(await screen.findByText("DATABASE_URL saved. The next build uses it.")).toBeInTheDocument();
    expect(calls.find((c) => c.method === "PUT")).toEqual({
      method: "PUT",
      url: "/api/v1/sites/s1/env/DATABASE_URL",
      body: { value: "postgres://x", context: "deploy-preview" },
    });
    const list = screen.getByRole("list", { name: "Environment variables" });
    expect(within(list).getByText("DATABASE_URL")).toBeInTheDocument();
    expect(within(list).getByText("Deploy previews")).toBeInTheDocument();
    expect(screen.queryByText("postgres://x")).toBeNull();
    expect(screen.getByLabelText("Key")).toHaveValue(""); // the form is ready for the next one
  });

  it("shows the API's message next to the Key field", async () => {
    saveToken("t");
    fakeEnvApi([]);
    render(<EnvVarsCard site={site} />);
    await screen.findByText("No environment variables yet.");
    await userEvent.type(screen.getByLabelText("Key"), "1BAD-KEY");
    await userEvent.click(screen.getByRole("button", { name: "Save variable" }));

    const key = screen.getByLabelText("Key");
    await waitFor(() => expect(key).toHaveAttribute("aria-invalid", "true"));
    expect(key).toHaveAccessibleDescription(/Key must be letters, digits and '_', not starting with a digit/);
    expect(key).toHaveFocus();
    expect(screen.getByLabelText("Value")).not.toHaveAttribute("aria-invalid");
  });

  it("changes a value and deletes a variable after confirmation", async () => {
    saveToken("t");
    const calls = fakeEnvApi([{ key: "TOKEN", values: [{ context: "all", value: "old" }] }]);
    render(<EnvVarsCard site={site} />);
    await screen.findByText("TOKEN");

    await userEvent.click(screen.getByRole("button", { name: "Change TOKEN for All deploys" }));
    const field = screen.getByLabelText("New value of TOKEN (All deploys)");
    expect(field).toHaveValue(""); // a hidden value is not put in the field
    await userEvent.type(field, "new{Enter}");
    await screen.findByText("TOKEN saved. The next build uses it.");
    expect(calls.filter((c) => c.method === "PUT").map((c) => c.body)).toEqual([{ value: "new", context: "all" }]);

    await userEvent.click(screen.getByRole("button", { name: "Delete TOKEN" }));
    const dialog = screen.getByRole("dialog", { name: "Delete this variable?" });
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    await userEvent.click(within(dialog).getByRole("button", { name: "Delete variable" }));
    expect(await screen.findByText("No environment variables yet.")).toBeInTheDocument();
    expect(calls.find((c) => c.method === "DELETE")?.url).toBe("/api/v1/sites/s1/env/TOKEN");
  });

  it("has loading and error states", async () => {
    saveToken("t");
    vi.stubGlobal("fetch", vi.fn(async () => json({ error: { code: "internal", message: "database is down" } }, 500)));
    render(<EnvVarsCard site={site} />);
    expect(screen.getByText("Loading variables…")).toBeInTheDocument();
    expect(await screen.findByText("Database is down")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });
});

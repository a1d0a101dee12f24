import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { GitHubRepo } from "@/lib/api/types";
import { saveToken } from "@/lib/session";
import { GitHubRepoPicker, filterRepos } from "./GitHubRepoPicker";

function repo(full_name: string, description: string | null = null): GitHubRepo {
  const [owner = "", name = ""] = full_name.split("/");
  return {
    id: full_name,
    full_name,
    name,
    owner,
    description,
    private: full_name.includes("secret"),
    default_branch: "main",
    html_url: `https://github.com/${full_name}`,
    clone_url: `https://github.com/${full_name}.git`,
    pushed_at: "2026-11-20T10:00:00Z",
  };
}

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

const repos = [
  repo("octo/blog", "My Astro blog"),
  repo("octo/secret-api"),
  repo("acme/docs", "Docusaurus site for ACME"),
  repo("acme/blog-theme"),
];

afterEach(() => vi.unstubAllGlobals());

describe("GitHubRepoPicker", () => {
  it("filters by name and description as the user types, and picks one", async () => {
    saveToken("t");
    vi.stubGlobal("fetch", vi.fn(async () => json(repos)));
    const onSelect = vi.fn();
    render(<GitHubRepoPicker onSelect={onSelect} returnTo="/new/" />);
    expect(screen.getByText("Loading your repositories from GitHub…")).toBeInTheDocument();

    const list = await screen.findByRole("list", { name: "Repositories" });
    expect(within(list).getAllByRole("button")).toHaveLength(4);
    expect(screen.getByText("4 repositories")).toBeInTheDocument();

    await userEvent.type(screen.getByLabelText("Search repositories"), "BLOG");
    expect(within(list).getAllByRole("button").map((b) => b.querySelector("span")?.textContent)).toEqual([
      "octo/blog",
      "acme/blog-theme",
    ]);
    await userEvent.clear(screen.getByLabelText("Search repositories"));
    await userEvent.type(screen.getByLabelText("Search repositories"), "docusaurus");
    expect(screen.getByText("1 repository")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: /acme\/docs/ }));
    expect(onSelect).toHaveBeenCalledWith(repos[2]);

    await userEvent.type(screen.getByLabelText("Search repositories"), " nothing");
    expect(screen.getByText("No repository matches “docusaurus nothing”.")).toBeInTheDocument();
    expect(screen.queryByRole("list", { name: "Repositories" })).toBeNull();
  });

  it("offers Reconnect GitHub when GitHub no longer accepts the token", async () => {
    saveToken("t");
    const fetch = vi.fn(async (url: string) => {
      if (url === "/api/v1/github/repos") {
        return json({ error: { code: "github_reconnect", message: "GitHub rejected the token" } }, 403);
      }
      if (url.startsWith("/api/v1/github/connect")) {
        return json({ authorize_url: "https://github.com/login/oauth/authorize?client_id=x&state=y" });
      }
      throw new Error("unexpected " + url);
    });
    vi.stubGlobal("fetch", fetch);
    const assign = vi.fn();
    vi.stubGlobal("location", { ...window.location, assign });
    render(<GitHubRepoPicker onSelect={vi.fn()} returnTo="/new/" />);

    expect(await screen.findByText("GitHub no longer accepts the connection.")).toBeInTheDocument();
    expect(screen.queryByRole("list", { name: "Repositories" })).toBeNull();
    await userEvent.click(screen.getByRole("button", { name: "Reconnect GitHub" }));
    await waitFor(() =>
      expect(assign).toHaveBeenCalledWith("https://github.com/login/oauth/authorize?client_id=x&state=y"),
    );
    expect(fetch).toHaveBeenCalledWith(
      "/api/v1/github/connect?return_to=%2Fnew%2F",
      expect.objectContaining({ headers: expect.objectContaining({ Accept: "application/json" }) }),
    );
  });

  it("shows other failures with a retry", async () => {
    saveToken("t");
    const fetch = vi
      .fn()
      .mockResolvedValueOnce(json({ error: { code: "github_unavailable", message: "GitHub did not answer" } }, 502))
      .mockResolvedValueOnce(json([]));
    vi.stubGlobal("fetch", fetch);
    render(<GitHubRepoPicker onSelect={vi.fn()} returnTo="/new/" />);
    expect(await screen.findByText("GitHub did not answer")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByText(/has no repositories the server can see/)).toBeInTheDocument();
  });

  it("filterRepos needs every word", () => {
    expect(filterRepos(repos, "acme blog").map((r) => r.full_name)).toEqual(["acme/blog-theme"]);
    expect(filterRepos(repos, "  ")).toHaveLength(4);
  });
});

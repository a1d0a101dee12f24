import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { saveToken } from "@/lib/session";
import { NewSiteForm } from "./NewSiteForm";

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

afterEach(() => {
  vi.unstubAllGlobals();
  window.history.replaceState(null, "", "/");
});

describe("NewSiteForm", () => {
  it("has four ways as tabs the keyboard can move through, kept in the address", async () => {
    saveToken("t");
    vi.stubGlobal("fetch", vi.fn(async () => json({ connected: false, configured: true })));
    window.history.replaceState(null, "", "/new/");
    render(<NewSiteForm />);
    const tabs = screen.getAllByRole("tab");
    expect(tabs.map((t) => t.textContent)).toEqual([
      "GitHubPick a repository",
      "Git URLAny public repository",
      "Git pushPush to this server",
      "Upload a folderDrag and drop",
    ]);
    expect(screen.getByRole("tab", { name: "GitHub" })).toHaveAttribute("aria-selected", "true");
    expect(screen.getByRole("tabpanel", { name: "GitHub" })).toBeInTheDocument();

    screen.getByRole("tab", { name: "GitHub" }).focus();
    await userEvent.keyboard("{ArrowRight}");
    expect(screen.getByRole("tab", { name: "Git URL" })).toHaveFocus();
    expect(screen.getByRole("tab", { name: "Git URL" })).toHaveAttribute("aria-selected", "true");
    expect(screen.getByLabelText(/Repository URL/)).toBeInTheDocument();
    expect(window.location.hash).toBe("#git-url");
    await userEvent.keyboard("{End}");
    expect(screen.getByRole("tab", { name: "Upload a folder" })).toHaveFocus();
    expect(screen.getByTestId("folder-input")).toBeInTheDocument();
    await userEvent.keyboard("{ArrowRight}");
    expect(screen.getByRole("tab", { name: "GitHub" })).toHaveAttribute("aria-selected", "true");
    expect(screen.getAllByRole("tab").filter((t) => t.tabIndex === 0)).toHaveLength(1);
  });

  it("opens the tab named in the address", () => {
    window.history.replaceState(null, "", "/new/#git-remote");
    render(<NewSiteForm />);
    expect(screen.getByRole("tab", { name: "Git push" })).toHaveAttribute("aria-selected", "true");
  });

  it("platform remote: creates the site, then shows the git lines to copy", async () => {
    saveToken("t");
    const fetch = vi.fn(async (_url: string, _init: RequestInit) =>
      json(
        {
          id: "s1",
          name: "pushed-site",
          url: "http://pushed-site.localhost:8080",
          git_remote_url: "http://localhost:8080/git/pushed-site.git",
          build_settings: { repo_branch: "", provider: "" },
        },
        201,
      ),
    );
    vi.stubGlobal("fetch", fetch);
    window.history.replaceState(null, "", "/new/#git-remote");
    render(<NewSiteForm />);
    await userEvent.type(screen.getByLabelText("Site name"), "pushed-site{Enter}");

    expect(await screen.findByText("git remote add replideploy http://localhost:8080/git/pushed-site.git")).toBeInTheDocument();
    expect(screen.getByText("git push replideploy main")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Copy the git remote add command" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Copy the git push command" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "API token from your Account page" })).toHaveAttribute("href", "/account/");
    expect(screen.getByRole("link", { name: "Watch the deploys" })).toHaveAttribute("href", "/sites/pushed-site/deploys/");
    expect(JSON.parse(fetch.mock.calls[0]![1].body as string)).toEqual({ name: "pushed-site" });
  });

  it("git URL: needs the URL, then creates a site that follows it", async () => {
    saveToken("t");
    const fetch = vi.fn(async (_url: string, _init: RequestInit) => json({ id: "s2", name: "random-name-42" }, 201));
    vi.stubGlobal("fetch", fetch);
    const assign = vi.fn();
    vi.stubGlobal("location", { ...window.location, hash: "#git-url", assign });
    render(<NewSiteForm />);

    await userEvent.click(await screen.findByRole("button", { name: "Create site and deploy" }));
    const url = screen.getByLabelText(/Repository URL/);
    expect(url).toHaveAttribute("aria-invalid", "true");
    expect(url).toHaveAccessibleDescription(/Repository URL is required/);
    expect(fetch).not.toHaveBeenCalled();

    await userEvent.type(url, "https://codeberg.org/me/site.git");
    await userEvent.type(screen.getByLabelText("Publish directory"), "public{Enter}");
    await waitFor(() => expect(assign).toHaveBeenCalledWith("/sites/random-name-42/deploys/"));
    expect(JSON.parse(fetch.mock.calls[0]![1].body as string)).toEqual({
      repo: {
        provider: "git",
        repo_url: "https://codeberg.org/me/site.git",
        repo_branch: "main",
        cmd: "",
        dir: "public",
        base: "",
        functions_dir: "",
      },
    });
  });
});

describe("NewSiteForm and the address", () => {
  it("follows a change of the #way in the address", async () => {
    window.history.replaceState(null, "", "/new/#upload");
    render(<NewSiteForm />);
    expect(screen.getByRole("tab", { name: "Upload a folder" })).toHaveAttribute("aria-selected", "true");
    window.history.replaceState(null, "", "/new/#git-remote");
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    await waitFor(() => expect(screen.getByRole("tab", { name: "Git push" })).toHaveAttribute("aria-selected", "true"));
  });
});

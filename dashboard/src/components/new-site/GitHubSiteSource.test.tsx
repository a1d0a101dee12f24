import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { saveToken } from "@/lib/session";
import { GitHubSiteSource } from "./GitHubSiteSource";

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function stubApi(routes: Record<string, () => Response>) {
  const calls: { method: string; url: string; body: unknown }[] = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const method = init.method ?? "GET";
    calls.push({ method, url, body: typeof init.body === "string" ? JSON.parse(init.body) : undefined });
    const route = routes[`${method} ${url}`];
    if (route === undefined) throw new Error(`unexpected ${method} ${url}`);
    return route();
  });
  vi.stubGlobal("fetch", fetch);
  return calls;
}

afterEach(() => vi.unstubAllGlobals());

describe("GitHubSiteSource", () => {
  it("says GitHub is not set up instead of offering to connect", async () => {
    saveToken("t");
    stubApi({ "GET /api/v1/github/account": () => json({ connected: false, configured: false }) });
    render(<GitHubSiteSource returned={null} />);
    expect(await screen.findByText("GitHub is not set up on this server")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Connect with GitHub" })).toBeNull();
  });

  it("connects through GitHub's page and comes back to /new/", async () => {
    saveToken("t");
    stubApi({
      "GET /api/v1/github/account": () => json({ connected: false, configured: true }),
      "GET /api/v1/github/connect?return_to=%2Fnew%2F": () => json({ authorize_url: "https://github.com/login/oauth/authorize?x=1" }),
    });
    const assign = vi.fn();
    vi.stubGlobal("location", { ...window.location, assign });
    render(<GitHubSiteSource returned={{ connected: false, error: "access_denied" }} />);
    expect(screen.getByText("access_denied")).toBeInTheDocument();
    await userEvent.click(await screen.findByRole("button", { name: "Connect with GitHub" }));
    await waitFor(() => expect(assign).toHaveBeenCalledWith("https://github.com/login/oauth/authorize?x=1"));
  });

  it("picks a repository, prefills the detected settings and creates the site", async () => {
    saveToken("t");
    const calls = stubApi({
      "GET /api/v1/github/account": () =>
        json({ connected: true, login: "octocat", avatar_url: "", html_url: "https://github.com/octocat" }),
      "GET /api/v1/github/repos": () =>
        json([
          {
            id: 1,
            full_name: "octocat/My_Site",
            name: "My_Site",
            owner: "octocat",
            description: null,
            private: false,
            default_branch: "trunk",
            html_url: "https://github.com/octocat/My_Site",
            clone_url: "https://github.com/octocat/My_Site.git",
            pushed_at: null,
          },
        ]),
      "GET /api/v1/github/repos/octocat/My_Site/detect?ref=trunk": () =>
        json({ framework: "vite", package_manager: "npm", cmd: "npm run build", dir: "dist", base: "" }),
      "POST /api/v1/sites": () => json({ id: "s9", name: "my-site-2" }, 201),
    });
    const assign = vi.fn();
    vi.stubGlobal("location", { ...window.location, assign });
    render(<GitHubSiteSource returned={{ connected: true, error: null }} />);
    expect(screen.getByText("GitHub is connected.")).toBeInTheDocument();

    await userEvent.click(await screen.findByRole("button", { name: /octocat\/My_Site/ }));
    expect(await screen.findByText("Detected Vite (npm). Change anything that is not right.")).toBeInTheDocument();
    expect(screen.getByLabelText("Build command")).toHaveValue("npm run build");
    expect(screen.getByLabelText("Publish directory")).toHaveValue("dist");
    expect(screen.getByLabelText("Production branch")).toHaveValue("trunk");
    expect(screen.getByLabelText("Site name")).toHaveValue("my-site");

    await userEvent.clear(screen.getByLabelText("Site name"));
    await userEvent.type(screen.getByLabelText("Site name"), "my-site-2");
    await userEvent.type(screen.getByLabelText("Functions directory"), "netlify/functions{Enter}");

    await waitFor(() => expect(assign).toHaveBeenCalledWith("/sites/my-site-2/deploys/"));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      name: "my-site-2",
      repo: {
        provider: "github",
        repo_path: "octocat/My_Site",
        repo_branch: "trunk",
        cmd: "npm run build",
        dir: "dist",
        base: "",
        functions_dir: "netlify/functions",
      },
    });
  });

  it("goes on without detection when it fails, and shows a taken name next to the field", async () => {
    saveToken("t");
    stubApi({
      "GET /api/v1/github/account": () => json({ connected: true, login: "o", avatar_url: "", html_url: "" }),
      "GET /api/v1/github/repos": () =>
        json([{ id: 1, full_name: "o/r", name: "r", owner: "o", description: null, private: true, default_branch: "main", html_url: "", clone_url: "", pushed_at: null }]),
      "GET /api/v1/github/repos/o/r/detect?ref=main": () =>
        json({ error: { code: "github_reconnect", message: "GitHub rejected the token" } }, 403),
      "POST /api/v1/sites": () => json({ error: { code: "name_taken", message: "a site named 'r' already exists" } }, 422),
    });
    render(<GitHubSiteSource returned={null} />);
    await userEvent.click(await screen.findByRole("button", { name: /o\/r/ }));
    expect(await screen.findByText("Could not detect the build settings")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Reconnect GitHub" })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Create site and deploy" }));
    await waitFor(() => expect(screen.getByLabelText("Site name")).toHaveAttribute("aria-invalid", "true"));
    expect(screen.getByLabelText("Site name")).toHaveAccessibleDescription(/A site named 'r' already exists/);

    await userEvent.click(screen.getByRole("button", { name: "Pick another repository" }));
    expect(await screen.findByLabelText("Search repositories")).toBeInTheDocument();
  });
});

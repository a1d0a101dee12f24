import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Deploy, Site } from "@/lib/api/types";
import { saveToken } from "@/lib/session";
import { DeployList } from "./DeployList";

const site = { id: "s1", name: "blog", build_settings: { provider: "" } } as Site;

function deploy(id: string, change: Partial<Deploy>): Deploy {
  return {
    id,
    state: "ready",
    context: "production",
    branch: null,
    title: null,
    published: false,
    locked: false,
    file_count: 1,
    created_at: "2026-01-01T00:00:00.000Z",
    deploy_url: `http://${id}--blog.localhost:8080`,
    error_message: null,
    commit_ref: null,
    commit_url: null,
    review_id: null,
    review_url: null,
    deploy_time: null,
    build_id: null,
    deploy_source: "dashboard",
    links: { permalink: `http://${id}--blog.localhost:8080` },
    ...change,
  } as Deploy;
}

function json(body: unknown) {
  return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
}

afterEach(() => vi.unstubAllGlobals());

describe("DeployList", () => {
  it("marks the published deploy and publishes an older one after confirmation", async () => {
    saveToken("t");
    const listed = [deploy("new1", { published: true, title: "v2" }), deploy("old1", { title: "v1" })];
    const fetch = vi.fn(async (url: string, init: RequestInit) => {
      if (init.method === "POST") return json(deploy("old1", { published: true }));
      return json(listed);
    });
    vi.stubGlobal("fetch", fetch);
    render(<DeployList site={site} />);

    const rows = await screen.findAllByRole("article");
    expect(within(rows[0]!).getByText("Published")).toBeInTheDocument();
    expect(within(rows[0]!).queryByRole("button", { name: "Publish deploy" })).toBeNull();
    expect(within(rows[1]!).getByRole("link", { name: "old1--blog.localhost:8080" })).toBeInTheDocument();

    await userEvent.click(within(rows[1]!).getByRole("button", { name: "Publish deploy" }));
    const dialog = screen.getByRole("dialog", { name: "Publish this deploy?" });
    expect(fetch).toHaveBeenCalledTimes(1); // nothing happens before the confirmation
    await userEvent.click(within(dialog).getByRole("button", { name: "Publish deploy" }));

    await waitFor(() =>
      expect(fetch).toHaveBeenCalledWith("/api/v1/sites/s1/deploys/old1/restore", expect.objectContaining({ method: "POST" })),
    );
    expect(await screen.findByText("Deploy published. The site serves it now.")).toBeInTheDocument();
  });

  it("offers cancel only for deploys still in progress", async () => {
    saveToken("t");
    vi.stubGlobal("fetch", vi.fn(async () => json([deploy("up1", { state: "uploading" }), deploy("err1", { state: "error", error_message: "boom" })])));
    render(<DeployList site={site} />);
    const rows = await screen.findAllByRole("article");
    expect(within(rows[0]!).getByRole("button", { name: "Cancel" })).toBeInTheDocument();
    expect(within(rows[1]!).queryByRole("button", { name: "Cancel" })).toBeNull();
    expect(within(rows[1]!).getByText("boom")).toBeInTheDocument();
  });

  it("shows commit, context, duration and links each deploy to its page", async () => {
    saveToken("t");
    vi.stubGlobal(
      "fetch",
      vi.fn(async () =>
        json([
          deploy("b1", {
            state: "building",
            context: "branch-deploy",
            branch: "feature/x",
            title: "Add the pricing page\n\nLonger body",
            commit_ref: "0123456789abcdef0123456789abcdef01234567",
            commit_url: "https://github.com/o/r/commit/0123456789abcdef0123456789abcdef01234567",
            deploy_source: "git",
            build_id: "job1",
            links: { permalink: "http://b1--blog.localhost:8080", alias: "http://feature-x--blog.localhost:8080" },
          }),
          deploy("p1", {
            context: "deploy-preview",
            review_id: 12,
            review_url: "https://github.com/o/r/pull/12",
            title: "Fix typo",
            commit_ref: "fedcba9876543210fedcba9876543210fedcba98",
            deploy_time: 65,
          }),
        ]),
      ),
    );
    render(<DeployList site={site} />);
    const rows = await screen.findAllByRole("article");

    const building = within(rows[0]!);
    expect(building.getByText("Building")).toBeInTheDocument();
    expect(building.getByText("Branch deploy")).toBeInTheDocument();
    expect(building.getByText("feature/x")).toBeInTheDocument();
    expect(building.getByRole("link", { name: "Add the pricing page" })).toHaveAttribute("href", "/sites/blog/deploys/b1/");
    expect(building.getByRole("link", { name: "View live log" })).toHaveAttribute("href", "/sites/blog/deploys/b1/");
    expect(building.getByRole("link", { name: "commit 0123456" })).toHaveAttribute(
      "href",
      "https://github.com/o/r/commit/0123456789abcdef0123456789abcdef01234567",
    );
    expect(building.getByRole("link", { name: "feature-x--blog.localhost:8080" })).toBeInTheDocument();

    const preview = within(rows[1]!);
    expect(preview.getByRole("link", { name: "pull request #12" })).toHaveAttribute("href", "https://github.com/o/r/pull/12");
    expect(preview.getByText("fedcba9")).toBeInTheDocument(); // no commit_url: not a link
    expect(preview.queryByRole("link", { name: /fedcba9/ })).toBeNull();
    expect(preview.getByText("1m 05s")).toBeInTheDocument();
    expect(preview.queryByRole("link", { name: "View live log" })).toBeNull();
    expect(preview.queryByRole("button", { name: "Publish deploy" })).toBeNull(); // not production
    // a deploy built from git on the list: the site can be built again
    expect(screen.getByRole("button", { name: "Trigger deploy" })).toBeInTheDocument();
  });

  it("has no Trigger deploy for a site that only ever got uploads", async () => {
    saveToken("t");
    vi.stubGlobal("fetch", vi.fn(async () => json([deploy("u1", {})])));
    render(<DeployList site={site} />);
    await screen.findAllByRole("article");
    expect(screen.queryByRole("button", { name: "Trigger deploy" })).toBeNull();
  });

  it("has an empty state", async () => {
    saveToken("t");
    vi.stubGlobal("fetch", vi.fn(async () => json([])));
    render(<DeployList site={site} />);
    expect(await screen.findByText("No deploys yet")).toBeInTheDocument();
  });
});

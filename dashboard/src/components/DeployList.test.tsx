import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { Deploy, Site } from "@/lib/api";
import { saveToken } from "@/lib/session";
import { DeployList } from "./DeployList";

const site = { id: "s1", name: "blog" } as Site;

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

  it("has an empty state", async () => {
    saveToken("t");
    vi.stubGlobal("fetch", vi.fn(async () => json([])));
    render(<DeployList site={site} />);
    expect(await screen.findByText("No deploys yet")).toBeInTheDocument();
  });
});

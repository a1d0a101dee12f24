import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { BuildSettings, Site } from "@/lib/api/types";
import { saveToken } from "@/lib/session";
import { BuildSettingsForm } from "./BuildSettingsForm";

const settings: BuildSettings = {
  cmd: "npm run build",
  dir: "dist",
  base: "",
  repo_url: "https://github.com/o/r",
  repo_branch: "main",
  functions_dir: "",
  provider: "github",
  repo_path: "o/r",
  branch_deploys: false,
  deploy_previews: true,
};

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

afterEach(() => vi.unstubAllGlobals());

describe("BuildSettingsForm", () => {
  it("saves only what changed, toggles included", async () => {
    saveToken("t");
    const fetch = vi.fn(async (_url: string, init: RequestInit) => {
      const body = JSON.parse(init.body as string) as { build_settings: Partial<BuildSettings> };
      return json({ id: "s1", build_settings: { ...settings, ...body.build_settings } });
    });
    vi.stubGlobal("fetch", fetch);
    render(<BuildSettingsForm site={{ id: "s1", build_settings: settings } as Site} />);

    expect(screen.getByRole("button", { name: "Save build settings" })).toBeDisabled();
    expect(screen.getByLabelText("Deploy previews")).toBeChecked();
    await userEvent.click(screen.getByLabelText("Branch deploys"));
    await userEvent.click(screen.getByLabelText("Deploy previews"));
    await userEvent.clear(screen.getByLabelText("Production branch"));
    await userEvent.type(screen.getByLabelText("Production branch"), "trunk{Enter}");

    expect(await screen.findByText("Build settings saved.")).toBeInTheDocument();
    expect(fetch).toHaveBeenCalledWith("/api/v1/sites/s1", expect.objectContaining({ method: "PATCH" }));
    expect(JSON.parse(fetch.mock.calls[0]![1].body as string)).toEqual({
      build_settings: { repo_branch: "trunk", branch_deploys: true, deploy_previews: false },
    });
    expect(screen.getByRole("button", { name: "Save build settings" })).toBeDisabled();
  });

  it("shows deploy previews only for GitHub sites, and a field error next to its field", async () => {
    saveToken("t");
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => json({ error: { code: "invalid_build_settings", message: "build_settings.dir must not leave the site" } }, 422)),
    );
    render(<BuildSettingsForm site={{ id: "s1", build_settings: { ...settings, provider: "" } } as Site} />);
    expect(screen.queryByLabelText("Deploy previews")).toBeNull();
    await userEvent.clear(screen.getByLabelText("Publish directory"));
    await userEvent.type(screen.getByLabelText("Publish directory"), "../x{Enter}");
    await waitFor(() => expect(screen.getByLabelText("Publish directory")).toHaveAttribute("aria-invalid", "true"));
    expect(screen.getByLabelText("Publish directory")).toHaveAccessibleDescription(/Build_settings.dir must not leave the site/);
  });
});

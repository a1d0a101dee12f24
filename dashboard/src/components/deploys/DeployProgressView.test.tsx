import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import type { Deploy } from "@/lib/api/types";
import { initialProgress, type FolderDeployProgress } from "@/lib/folder_deploy";
import { DeployProgressView } from "./DeployProgressView";

const base: FolderDeployProgress = initialProgress([{ path: "index.html", file: new Blob(["x".repeat(2048)]) }]);

describe("DeployProgressView", () => {
  it("shows files and bytes while uploading", () => {
    render(
      <DeployProgressView
        progress={{ ...base, phase: "uploading", uploadsDone: 1, uploadsTotal: 4, uploadBytesDone: 1024, uploadBytesTotal: 4096 }}
      />,
    );
    const bar = screen.getByRole("progressbar", { name: "Deploy progress" });
    expect(bar).toHaveAttribute("aria-valuenow", "39");
    expect(screen.getByText("Uploading files: 1 of 4 (1.0 KB of 4.0 KB)")).toBeInTheDocument();
  });

  it("links the live site and the deploy when ready", () => {
    const deploy = { url: "http://s.localhost:8080", deploy_url: "http://d1--s.localhost:8080", published: true } as Deploy;
    render(<DeployProgressView progress={{ ...base, phase: "ready", deploy }} />);
    expect(screen.queryByRole("progressbar")).toBeNull();
    expect(screen.getByRole("link", { name: "http://s.localhost:8080" })).toHaveAttribute("href", "http://s.localhost:8080");
    expect(screen.getByRole("link", { name: "http://d1--s.localhost:8080" })).toBeInTheDocument();
  });

  it("shows the error message of a failed deploy", () => {
    render(<DeployProgressView progress={{ ...base, phase: "error", errorMessage: "Site not found" }} />);
    expect(screen.getByRole("alert")).toHaveTextContent("Deploy failedSite not found");
  });
});

describe("DeployProgressView when auto publishing is stopped", () => {
  it("says the deploy is ready, not live", () => {
    const deploy = { url: "http://s.localhost:8080", deploy_url: "http://d2--s.localhost:8080", published: false } as Deploy;
    render(<DeployProgressView progress={{ ...base, phase: "ready", deploy }} />);
    expect(screen.getByText("Deploy is ready")).toBeInTheDocument();
    expect(screen.getByText(/It is not the published deploy/)).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "http://s.localhost:8080" })).toBeNull();
  });
});

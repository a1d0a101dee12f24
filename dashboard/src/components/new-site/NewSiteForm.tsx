"use client";

// New site, four ways: from GitHub (connect, pick a repository, detected build settings), from
// any public git URL, by `git push` to the platform's own git remote, or by uploading a folder.
// The chosen way is kept in the address (#github, #git-url, #git-remote, #upload).

import { useEffect, useState } from "react";

import { useGitHubReturn } from "@/lib/github_return";
import { Tabs, type TabItem } from "@/components/ui/Tabs";
import { Card } from "@/components/ui/ui";
import { GitHubSiteSource } from "./GitHubSiteSource";
import { GitRemoteSiteSource } from "./GitRemoteSiteSource";
import { RepoSiteForm } from "./RepoSiteForm";
import { UploadSiteSource } from "./UploadSiteSource";

export type SiteSource = "github" | "git-url" | "git-remote" | "upload";

export const kSiteSources: readonly TabItem<SiteSource>[] = [
  { id: "github", label: "GitHub", description: "Pick a repository" },
  { id: "git-url", label: "Git URL", description: "Any public repository" },
  { id: "git-remote", label: "Git push", description: "Push to this server" },
  { id: "upload", label: "Upload a folder", description: "Drag and drop" },
];

function sourceFromHash(hash: string): SiteSource | null {
  const id = hash.replace(/^#/, "");
  return kSiteSources.some((s) => s.id === id) ? (id as SiteSource) : null;
}

export function NewSiteForm() {
  // null until mounted: the address (read after hydration) picks the first tab.
  const [source, setSource] = useState<SiteSource | null>(null);
  const returned = useGitHubReturn();

  useEffect(() => {
    setSource((s) => s ?? sourceFromHash(window.location.hash) ?? "github");
    const onHashChange = () => {
      const fromHash = sourceFromHash(window.location.hash);
      if (fromHash !== null) setSource(fromHash);
    };
    window.addEventListener("hashchange", onHashChange);
    return () => window.removeEventListener("hashchange", onHashChange);
  }, []);
  useEffect(() => {
    if (returned !== null) setSource("github");
  }, [returned]);

  const select = (id: SiteSource) => {
    setSource(id);
    const { pathname, search } = window.location;
    window.history.replaceState(window.history.state, "", `${pathname}${search}#${id}`);
  };

  return (
    <Tabs label="Where the site comes from" tabs={kSiteSources} selected={source ?? "github"} onSelect={select}>
      {source === "github" && (
        <Card title="Build from GitHub" description="Every push is built; pull requests get deploy previews.">
          <GitHubSiteSource returned={returned} />
        </Card>
      )}
      {source === "git-url" && (
        <Card title="Build from a git URL" description="Any public git repository, on any host.">
          <RepoSiteForm source={{ provider: "git" }} />
        </Card>
      )}
      {source === "git-remote" && (
        <Card title="Push to this server" description="No repository host needed: git push straight to the site.">
          <GitRemoteSiteSource />
        </Card>
      )}
      {source === "upload" && <UploadSiteSource />}
    </Tabs>
  );
}

"use client";

// Where the site's deploys come from: its GitHub repository, a git URL it follows, or uploads
// and pushes to its own git remote; with "Trigger deploy" for the production branch.

import type { Build, Site } from "@/lib/api/types";
import { GitRemoteInstructions } from "@/components/new-site/GitRemoteInstructions";
import { Card, ExternalLink } from "@/components/ui/ui";
import { TriggerDeployButton } from "./TriggerDeployButton";

// A web page for a repository's clone URL, when it has one ("https://host/o/r.git" -> without .git).
function repoWebUrl(url: string): string | null {
  return /^https?:\/\//.test(url) ? url.replace(/\.git$/, "") : null;
}

export function SiteSourceCard({ site, onTriggered }: { site: Site; onTriggered?: (b: Build) => void }) {
  const b = site.build_settings;
  const branch = b.repo_branch === "" ? "main" : b.repo_branch;
  const trigger = <TriggerDeployButton site={site} onTriggered={onTriggered} />;

  if (b.provider === "github" || b.provider === "git") {
    const web = repoWebUrl(b.repo_url);
    const name = b.provider === "github" && b.repo_path !== "" ? b.repo_path : b.repo_url;
    return (
      <Card title="Repository" actions={trigger}>
        <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
          <dt className="font-medium text-slate-600">{b.provider === "github" ? "GitHub" : "Git URL"}</dt>
          <dd className="min-w-0 font-mono break-all">
            {web !== null ? <ExternalLink href={web}>{name}</ExternalLink> : name}
          </dd>
          <dt className="font-medium text-slate-600">Production branch</dt>
          <dd className="font-mono">{branch}</dd>
        </dl>
        <p className="mt-3 text-xs text-slate-500">
          {b.provider === "github"
            ? "GitHub tells the server about every push; each one is built."
            : "The server checks the repository for new commits every few minutes and builds them."}
        </p>
      </Card>
    );
  }

  if (!site.git_remote_url) return null; // a server without the git remote
  return (
    <Card
      title="Deploy with git push"
      description="No repository is connected: the site deploys what you upload, or what you push to its own git remote."
    >
      <details className="text-sm">
        <summary className="cursor-pointer font-medium text-slate-800">Show the git commands</summary>
        <div className="mt-3 space-y-4">
          <GitRemoteInstructions remoteUrl={site.git_remote_url} branch={b.repo_branch} />
          <div>
            <p className="mb-2 text-slate-700">Build the last pushed commit of {branch} again:</p>
            <div className="sm:flex sm:justify-start">{trigger}</div>
          </div>
        </div>
      </details>
    </Card>
  );
}

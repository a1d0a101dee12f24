"use client";

// New site from GitHub: connect the account (GitHub's OAuth page), pick a repository, check the
// detected build settings, create.

import { useState } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { GitHubRepo } from "@/lib/api/types";
import type { GitHubReturn } from "@/lib/github_return";
import { kAccountPath } from "@/lib/routes";
import { useApiData } from "@/lib/use_api_data";
import { ConnectGitHubButton } from "@/components/account/ConnectGitHubButton";
import { GitHubReturnNotice } from "@/components/account/GitHubReturnNotice";
import { ErrorNotice, InfoNotice, LoadingNotice, linkClass } from "@/components/ui/ui";
import { GitHubRepoPicker } from "./GitHubRepoPicker";
import { RepoSiteForm } from "./RepoSiteForm";

const kReturnTo = "/new/";

export function GitHubSiteSource({ returned }: { returned: GitHubReturn | null }) {
  const account = useApiData(() => api.githubAccount(), []);
  const [repo, setRepo] = useState<GitHubRepo | null>(null);

  let body;
  if (account.data === null && account.loading) {
    body = <LoadingNotice>Checking your GitHub connection…</LoadingNotice>;
  } else if (account.data === null) {
    body = (
      <ErrorNotice title="Could not check the GitHub connection" onRetry={() => void account.reload()}>
        {describeError(account.error)}
      </ErrorNotice>
    );
  } else if (!account.data.connected && !account.data.configured) {
    body = <GitHubNotConfigured />;
  } else if (!account.data.connected) {
    body = (
      <div className="space-y-3 text-sm text-slate-700">
        <p>Connect your GitHub account to pick a repository.</p>
        <ConnectGitHubButton returnTo={kReturnTo} />
      </div>
    );
  } else {
    body = (
      <div className="space-y-4">
        <p className="text-sm text-slate-600">
          Connected as <span className="font-semibold text-slate-900">@{account.data.login}</span>.{" "}
          <a href={kAccountPath} className={linkClass}>
            Manage
          </a>
        </p>
        {repo === null ? (
          <GitHubRepoPicker onSelect={setRepo} returnTo={kReturnTo} />
        ) : (
          <RepoSiteForm source={{ provider: "github", repo }} onBack={() => setRepo(null)} returnTo={kReturnTo} />
        )}
      </div>
    );
  }

  return (
    <div className="space-y-4">
      <GitHubReturnNotice value={returned} />
      {body}
    </div>
  );
}

export function GitHubNotConfigured() {
  return (
    <InfoNotice title="GitHub is not set up on this server">
      The server has no GitHub OAuth app configured, so it cannot connect to GitHub accounts. Its
      administrator can register one and give the server its client ID and secret. Meanwhile, build
      from a public git URL or push to the site&apos;s own git remote.
    </InfoNotice>
  );
}

"use client";

// The connected GitHub account's repositories, most recently pushed first, with a search box;
// picking one hands it to `onSelect`. When GitHub no longer accepts the token, offers
// "Reconnect GitHub".

import { useId, useMemo, useState } from "react";

import { api } from "@/lib/api/client";
import { ApiError, describeError } from "@/lib/api/errors";
import type { GitHubRepo } from "@/lib/api/types";
import { formatAge, formatDateTime } from "@/lib/format";
import { useApiData } from "@/lib/use_api_data";
import { ConnectGitHubButton } from "@/components/account/ConnectGitHubButton";
import { ErrorNotice, LoadingNotice } from "@/components/ui/ui";

const kShown = 30; // repositories listed at once; the search finds the others

export function filterRepos(repos: readonly GitHubRepo[], query: string): GitHubRepo[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...repos];
  return repos.filter((r) => {
    const hay = `${r.full_name} ${r.description ?? ""}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

export function GitHubRepoPicker({
  onSelect,
  returnTo,
}: {
  onSelect: (repo: GitHubRepo) => void;
  returnTo: string; // where "Reconnect GitHub" comes back to
}) {
  const repos = useApiData(() => api.listGitHubRepos(), []);
  const [query, setQuery] = useState("");
  const searchId = useId();
  const found = useMemo(() => filterRepos(repos.data ?? [], query), [repos.data, query]);

  if (repos.data === null && repos.loading) {
    return <LoadingNotice>Loading your repositories from GitHub…</LoadingNotice>;
  }
  if (repos.error instanceof ApiError && repos.error.code === "github_reconnect") {
    return (
      <div role="alert" className="space-y-3 rounded-md border border-amber-300 bg-amber-50 p-4 text-sm text-amber-950">
        <p className="font-semibold">GitHub no longer accepts the connection.</p>
        <p>The access was revoked or has expired. Connect again to see your repositories.</p>
        <ConnectGitHubButton returnTo={returnTo} label="Reconnect GitHub" />
      </div>
    );
  }
  if (repos.error instanceof ApiError && repos.error.code === "github_not_connected") {
    return (
      <div className="space-y-3 text-sm text-slate-700">
        <p>Connect your GitHub account to pick a repository.</p>
        <ConnectGitHubButton returnTo={returnTo} />
      </div>
    );
  }
  if (repos.data === null) {
    return (
      <ErrorNotice title="Could not load your repositories" onRetry={() => void repos.reload()}>
        {describeError(repos.error)}
      </ErrorNotice>
    );
  }
  if (repos.data.length === 0) {
    return (
      <p className="text-sm text-slate-600">
        Your GitHub account has no repositories the server can see. Create one on GitHub, or
        allow access to your organization&apos;s repositories, then reload this page.
      </p>
    );
  }

  return (
    <div className="space-y-3">
      <div>
        <label htmlFor={searchId} className="block text-sm font-medium text-slate-800">
          Search repositories
        </label>
        <input
          id={searchId}
          type="search"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          placeholder="name or description"
          autoComplete="off"
          className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-base shadow-sm focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-teal-600 sm:text-sm"
        />
      </div>
      <p className="text-xs text-slate-500" aria-live="polite">
        {found.length === 0
          ? `No repository matches “${query.trim()}”.`
          : found.length > kShown
            ? `Showing ${kShown} of ${found.length} repositories; search to find the others.`
            : `${found.length} ${found.length === 1 ? "repository" : "repositories"}`}
      </p>
      {found.length > 0 && (
        <ul aria-label="Repositories" className="divide-y divide-slate-200 rounded-md border border-slate-200">
          {found.slice(0, kShown).map((r) => (
            <li key={r.id}>
              <RepoChoice repo={r} onSelect={() => onSelect(r)} />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function RepoChoice({ repo, onSelect }: { repo: GitHubRepo; onSelect: () => void }) {
  const detailsId = useId();
  return (
    <button
      type="button"
      onClick={onSelect}
      aria-describedby={detailsId}
      className="flex w-full flex-col items-start gap-1 p-3 text-left hover:bg-teal-50 focus-visible:outline-2 focus-visible:-outline-offset-2 focus-visible:outline-teal-600"
    >
      <span className="font-mono text-sm font-semibold break-all text-slate-900">{repo.full_name}</span>
      <span id={detailsId} className="text-xs text-slate-600">
        {repo.private ? "Private" : "Public"}
        {repo.pushed_at !== null && (
          <>
            {" · pushed "}
            <time dateTime={repo.pushed_at} title={formatDateTime(repo.pushed_at)}>
              {formatAge(repo.pushed_at)}
            </time>
          </>
        )}
        {repo.description ? ` · ${repo.description}` : ""}
      </span>
    </button>
  );
}

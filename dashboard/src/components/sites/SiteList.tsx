"use client";

// The sites page: every site with its live URL, its last deploy and its repository; or, for a
// new user, what to do first.

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { Deploy, Site } from "@/lib/api/types";
import { displayUrl, formatAge, formatDateTime } from "@/lib/format";
import { sitePath } from "@/lib/routes";
import { useApiData } from "@/lib/use_api_data";
import { DeployStateBadge } from "@/components/deploys/DeployStateBadge";
import { EmptyState, ErrorNotice, ExternalLink, LoadingNotice, buttonClass } from "@/components/ui/ui";

export function SiteList() {
  const sites = useApiData(() => api.listSites(), []);

  return (
    <div>
      <div className="mb-6 flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-bold tracking-tight text-slate-900">Sites</h1>
        {sites.data !== null && sites.data.length > 0 && (
          <a href="/new/" className={buttonClass("primary")}>
            New site
          </a>
        )}
      </div>
      {sites.data === null && sites.loading && <LoadingNotice>Loading your sites…</LoadingNotice>}
      {sites.error !== null && (
        <ErrorNotice title="Could not load your sites" onRetry={() => void sites.reload()}>
          {describeError(sites.error)}
        </ErrorNotice>
      )}
      {sites.data !== null && sites.data.length === 0 && <FirstSiteGuide />}
      {sites.data !== null && sites.data.length > 0 && (
        <ul className="space-y-3" aria-label="Your sites">
          {sites.data.map((site) => (
            <li key={site.id}>
              <SiteCard site={site} />
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function FirstSiteGuide() {
  return (
    <EmptyState title="No sites yet">
      <ol className="mx-auto mt-4 max-w-md list-decimal space-y-2 pl-5 text-left">
        <li>Create a site: pick a GitHub repository, give a git URL, or just a name.</li>
        <li>
          The repository is built, or you push to the site&apos;s git remote, or drag the folder
          with your built site (the one with <code className="font-mono">index.html</code>) onto
          the page.
        </li>
        <li>Open its address: it is live once the deploy is ready.</li>
      </ol>
      <a href="/new/" className={buttonClass("primary", "mt-6")}>
        Create your first site
      </a>
    </EmptyState>
  );
}

function SiteCard({ site }: { site: Site }) {
  return (
    <article className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm sm:p-5">
      <div className="flex flex-col gap-3 sm:flex-row sm:items-start sm:justify-between">
        <div className="min-w-0">
          <h2 className="text-lg font-semibold">
            <a href={sitePath(site.name)} className="text-slate-900 hover:text-teal-800 hover:underline">
              {site.name}
            </a>
          </h2>
          <p className="mt-0.5 text-sm">
            <ExternalLink href={site.url}>{displayUrl(site.url)}</ExternalLink>
          </p>
          <p className="mt-1 text-sm text-slate-600">
            {site.build_settings.repo_url !== "" ? (
              <>
                Repository:{" "}
                <span className="font-mono break-all">
                  {site.build_settings.provider === "github" && site.build_settings.repo_path
                    ? `GitHub ${site.build_settings.repo_path}`
                    : site.build_settings.repo_url}
                </span>
              </>
            ) : (
              "No repository: deploys by upload"
            )}
          </p>
        </div>
        <LastDeploySummary site={site} />
      </div>
    </article>
  );
}

function LastDeploySummary({ site }: { site: Site }) {
  const last = useApiData<Deploy | null>(
    async () => (await api.listDeploys(site.id, 1))[0] ?? null,
    [site.id],
  );
  if (last.loading && last.data === null) {
    return <p className="text-sm text-slate-500">Loading last deploy…</p>;
  }
  if (last.error !== null) {
    return <p className="text-sm text-red-700">Last deploy unknown: {describeError(last.error)}</p>;
  }
  if (last.data === null) return <p className="text-sm text-slate-500">No deploys yet</p>;
  return (
    <p className="flex items-center gap-2 text-sm text-slate-600 sm:justify-end">
      <span className="sr-only">Last deploy:</span>
      <DeployStateBadge state={last.data.state} />
      <time dateTime={last.data.created_at} title={formatDateTime(last.data.created_at)}>
        {formatAge(last.data.created_at)}
      </time>
    </p>
  );
}

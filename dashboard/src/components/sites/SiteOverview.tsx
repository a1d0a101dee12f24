"use client";

// A site's overview: the published deploy, where deploys come from (repository or git remote,
// "Trigger deploy"), auto-publishing, a new deploy by drag and drop, custom domains, the build
// settings and the environment variables.

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { Deploy, Site } from "@/lib/api/types";
import { contextLabel, formatAge, formatDateTime } from "@/lib/format";
import { deployPath, siteDeploysPath } from "@/lib/routes";
import { useApiData } from "@/lib/use_api_data";
import { CommitRef, deployTitle } from "@/components/deploys/DeployMeta";
import { DeployStateBadge } from "@/components/deploys/DeployStateBadge";
import { CliDeployHint } from "@/components/new-site/CliDeployHint";
import { FolderDeployPanel } from "@/components/new-site/FolderDeployPanel";
import { Card, ErrorNotice, ExternalLink, LoadingNotice, linkClass } from "@/components/ui/ui";
import { AutoPublishLock } from "./AutoPublishLock";
import { BuildSettingsForm } from "./BuildSettingsForm";
import { DomainsCard } from "./DomainsCard";
import { EnvVarsCard } from "./EnvVarsCard";
import { SitePasswordCard } from "./SitePasswordCard";
import { SkewProtectionCard } from "./SkewProtectionCard";
import { SiteSourceCard } from "./SiteSourceCard";

interface SiteDeploys {
  published: Deploy | null;
  latest: Deploy | null;
}

export function SiteOverview({ site, reloadSite }: { site: Site; reloadSite: () => Promise<void> }) {
  const publishedId = site.published_deploy?.id ?? null;
  const deploys = useApiData<SiteDeploys>(
    async () => {
      const [latest] = await api.listDeploys(site.id, 1);
      const published = publishedId !== null ? await api.getDeploy(publishedId) : null;
      return { published, latest: latest ?? null };
    },
    [site.id, publishedId],
  );

  const refresh = async () => {
    await reloadSite();
    await deploys.reload();
  };

  return (
    <div className="grid gap-6">
      <Card
        title="Published deploy"
        actions={
          <a href={siteDeploysPath(site.name)} className={`text-sm ${linkClass}`}>
            All deploys
          </a>
        }
      >
        {deploys.data === null && deploys.loading && <LoadingNotice />}
        {deploys.error !== null && (
          <ErrorNotice title="Could not load the deploys" onRetry={() => void deploys.reload()}>
            {describeError(deploys.error)}
          </ErrorNotice>
        )}
        {deploys.data !== null && <PublishedDeploySummary site={site} deploy={deploys.data.published} />}
      </Card>

      <SiteSourceCard site={site} onTriggered={() => void deploys.reload()} />

      {deploys.data !== null && (
        <AutoPublishLock
          published={deploys.data.published}
          latest={deploys.data.latest}
          onChanged={refresh}
        />
      )}

      <Card
        title="Deploy a new version"
        description="Drop the folder with your built site. A production deploy goes live when it is ready, unless auto publishing is stopped."
      >
        <FolderDeployPanel
          resolveSite={async () => site.id}
          onFinished={() => void refresh()}
          dropLabel="Drag and drop a folder to deploy it"
        />
        <details className="mt-4 text-sm">
          <summary className="cursor-pointer font-medium text-slate-800">Deploy from the command line</summary>
          <div className="mt-3">
            <CliDeployHint site={site.name} />
          </div>
        </details>
      </Card>

      <DomainsCard site={site} onChanged={reloadSite} />

      <BuildSettingsForm site={site} />

      <EnvVarsCard site={site} />

      <SitePasswordCard site={site} onChanged={reloadSite} />

      <SkewProtectionCard site={site} onChanged={reloadSite} />
    </div>
  );
}

function PublishedDeploySummary({ site, deploy }: { site: Site; deploy: Deploy | null }) {
  if (deploy === null) {
    return (
      <p className="text-sm text-slate-600">
        {site.build_settings.provider === "github" || site.build_settings.provider === "git"
          ? "Nothing is published yet: the first build goes live when it is ready (see Deploys)."
          : `Nothing is published yet. Drop a folder below to put ${site.name} online.`}
      </p>
    );
  }
  return (
    <dl className="grid gap-x-6 gap-y-3 text-sm sm:grid-cols-[max-content_1fr]">
      <dt className="font-medium text-slate-600">Production URL</dt>
      <dd>
        <ExternalLink href={site.url}>{site.url}</ExternalLink>
      </dd>
      <dt className="font-medium text-slate-600">Deploy</dt>
      <dd className="flex flex-wrap items-center gap-2">
        <DeployStateBadge state={deploy.state} />
        <span className="text-slate-800">
          {contextLabel(deploy.context)}:{" "}
          <a href={deployPath(site.name, deploy.id)} className={linkClass}>
            {deployTitle(deploy)}
          </a>
        </span>
        <CommitRef deploy={deploy} />
        <span className="text-slate-500">
          published{" "}
          <time dateTime={deploy.published_at ?? deploy.created_at} title={formatDateTime(deploy.published_at ?? deploy.created_at)}>
            {formatAge(deploy.published_at ?? deploy.created_at)}
          </time>
        </span>
      </dd>
      <dt className="font-medium text-slate-600">Deploy URL</dt>
      <dd>
        <ExternalLink href={deploy.deploy_url}>{deploy.deploy_url}</ExternalLink>
      </dd>
      <dt className="font-medium text-slate-600">Files</dt>
      <dd className="text-slate-800">{deploy.file_count}</dd>
    </dl>
  );
}

"use client";

// One deploy's page (/sites/<name>/deploys/<id>/): what was deployed, its URLs, and its build
// log, followed live while the build runs.

import { useEffect, useState } from "react";

import { api } from "@/lib/api/client";
import { ApiError, describeError } from "@/lib/api/errors";
import type { Deploy, Site } from "@/lib/api/types";
import type { LogSocketFactory } from "@/lib/deploy_log_stream";
import { displayUrl, formatAge, formatDateTime, formatDuration } from "@/lib/format";
import { deployIdFromPath, siteDeploysPath } from "@/lib/routes";
import { useApiData } from "@/lib/use_api_data";
import { useDeployLog } from "@/lib/use_deploy_log";
import { useAsyncAction } from "@/lib/use_form_submit";
import { Button, Card, ErrorNotice, ExternalLink, LoadingNotice, linkClass } from "@/components/ui/ui";
import { DeployLogPanel } from "./DeployLogPanel";
import { BranchChip, CommitRef, DeployContext, deployTitle } from "./DeployMeta";
import { DeployStateBadge, PublishedBadge, isDeployInProgress } from "./DeployStateBadge";
import { DeployWarnings } from "./DeployWarnings";
import { RulesPanel } from "./RulesPanel";

export function DeployDetail({ site, openSocket }: { site: Site; openSocket?: LogSocketFactory }) {
  const [deployId, setDeployId] = useState<string | null>(null);
  const [missingId, setMissingId] = useState(false);
  useEffect(() => {
    const id = deployIdFromPath(window.location.pathname);
    if (id === null) setMissingId(true);
    else setDeployId(id);
  }, []);

  const deploy = useApiData(() => api.getDeploy(deployId ?? ""), [deployId], deployId !== null);

  const back = (
    <p className="mb-4 text-sm">
      <a href={siteDeploysPath(site.name)} className={linkClass}>
        <span aria-hidden="true">← </span>All deploys
      </a>
    </p>
  );
  const notFound =
    missingId ||
    (deploy.error instanceof ApiError && deploy.error.status === 404) ||
    (deploy.data !== null && deploy.data.site_id !== site.id);
  if (notFound) {
    return (
      <div>
        {back}
        <ErrorNotice title="Deploy not found">
          {site.name} has no deploy {deployId !== null ? `“${deployId}”` : "named in the address"}.
        </ErrorNotice>
      </div>
    );
  }
  if (deploy.data === null && deploy.error !== null) {
    return (
      <div>
        {back}
        <ErrorNotice title="Could not load the deploy" onRetry={() => void deploy.reload()}>
          {describeError(deploy.error)}
        </ErrorNotice>
      </div>
    );
  }
  if (deploy.data === null) return <LoadingNotice>Loading the deploy…</LoadingNotice>;
  return (
    <div>
      {back}
      <DeployPage site={site} deploy={deploy.data} reload={deploy.reload} openSocket={openSocket} />
    </div>
  );
}

function DeployPage({
  site,
  deploy,
  reload,
  openSocket,
}: {
  site: Site;
  deploy: Deploy;
  reload: () => Promise<void>;
  openSocket?: LogSocketFactory;
}) {
  // Chosen once: follow live when the page opened on a deploy in progress.
  const [live] = useState(() => isDeployInProgress(deploy.state));
  const log = useDeployLog(deploy.id, live, { openSocket });

  // The stream tells when the deploy is done: load its final details (URL, time, error).
  useEffect(() => {
    if (log.end !== null) void reload();
  }, [log.end, reload]);

  // A finished deploy's own state wins; while it runs, the stream knows better.
  const state = !isDeployInProgress(deploy.state)
    ? deploy.state
    : (log.end?.state ?? log.state ?? deploy.state);
  return (
    <div className="grid gap-6">
      <DeploySummary deploy={deploy} state={state} onChanged={reload} />
      <DeployWarnings deploy={deploy} />
      {state === "ready" && <RulesPanel site={site} deploy={deploy} />}
      <DeployLogPanel siteName={site.name} deploy={deploy} log={log} live={live} />
    </div>
  );
}

function DeploySummary({
  deploy,
  state,
  onChanged,
}: {
  deploy: Deploy;
  state: string;
  onChanged: () => Promise<void>;
}) {
  const { busy, error, run } = useAsyncAction();
  const cancel = () =>
    run(async () => {
      await api.cancelDeploy(deploy.id);
      await onChanged();
    });
  const alias = deploy.context !== "production" ? deploy.links?.alias : undefined;

  return (
    <Card
      title={<span className="break-words">{deployTitle(deploy)}</span>}
      actions={
        isDeployInProgress(state) ? (
          <Button kind="danger" onClick={() => void cancel()} disabled={busy}>
            {busy ? "Canceling…" : "Cancel deploy"}
          </Button>
        ) : undefined
      }
    >
      <div className="mb-4 flex flex-wrap items-center gap-2" data-testid="deploy-state">
        <DeployStateBadge state={state} />
        {deploy.published && <PublishedBadge />}
        <DeployContext deploy={deploy} />
        {deploy.branch !== null && deploy.branch !== "" && <BranchChip branch={deploy.branch} />}
        <CommitRef deploy={deploy} />
      </div>
      <dl className="grid gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
        <dt className="font-medium text-slate-600">Started</dt>
        <dd className="text-slate-800">
          <time dateTime={deploy.created_at} title={formatDateTime(deploy.created_at)}>
            {formatAge(deploy.created_at)}
          </time>
        </dd>
        {deploy.deploy_time !== null && deploy.deploy_time !== undefined && (
          <>
            <dt className="font-medium text-slate-600">Build time</dt>
            <dd className="text-slate-800">{formatDuration(deploy.deploy_time)}</dd>
          </>
        )}
        <dt className="font-medium text-slate-600">Deploy URL</dt>
        <dd className="min-w-0">
          <ExternalLink href={deploy.deploy_url}>{displayUrl(deploy.deploy_url)}</ExternalLink>
        </dd>
        {alias !== undefined && alias !== "" && (
          <>
            <dt className="font-medium text-slate-600">
              {deploy.context === "deploy-preview" ? "Preview URL" : "Branch URL"}
            </dt>
            <dd className="min-w-0">
              <ExternalLink href={alias}>{displayUrl(alias)}</ExternalLink>
            </dd>
          </>
        )}
      </dl>
      {deploy.error_message !== null && deploy.error_message !== "" && state === "error" && (
        <p className="mt-4 rounded-md bg-red-50 p-3 text-sm break-words text-red-800">{deploy.error_message}</p>
      )}
      {error !== null && (
        <div className="mt-4">
          <ErrorNotice title="Could not cancel the deploy">{describeError(error)}</ErrorNotice>
        </div>
      )}
    </Card>
  );
}

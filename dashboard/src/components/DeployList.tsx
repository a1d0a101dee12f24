"use client";

// A site's deploys, newest first: state, context, branch, title, time and each deploy's own URL;
// "Publish deploy" (with a confirmation) for ready ones that are not live, "Cancel" for those
// still on their way. Refreshes itself while any deploy is in progress.

import { useEffect, useState } from "react";

import { api, describeError, type Deploy, type Site } from "@/lib/api";
import { contextLabel, deploySourceLabel, displayUrl, formatAge, formatDateTime } from "@/lib/format";
import { useApiData } from "@/lib/use_api_data";
import { ConfirmDialog } from "./ConfirmDialog";
import { DeployStateBadge, PublishedBadge, isDeployInProgress } from "./DeployStateBadge";
import { Button, EmptyState, ErrorNotice, ExternalLink, LoadingNotice, SuccessNotice } from "./ui";

const kRefreshMs = 2000;

export function DeployList({ site }: { site: Site }) {
  const deploys = useApiData(() => api.listDeploys(site.id), [site.id]);
  const [toPublish, setToPublish] = useState<Deploy | null>(null);
  const [busy, setBusy] = useState<string | null>(null); // id of the deploy being changed
  const [actionError, setActionError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const anyInProgress = deploys.data?.some((d) => isDeployInProgress(d.state)) ?? false;
  const { reload } = deploys;
  useEffect(() => {
    if (!anyInProgress) return;
    const timer = setInterval(() => void reload(), kRefreshMs);
    return () => clearInterval(timer);
  }, [anyInProgress, reload]);

  const act = async (deploy: Deploy, action: () => Promise<unknown>, done: string) => {
    setBusy(deploy.id);
    setActionError(null);
    setNotice(null);
    try {
      await action();
      setNotice(done);
      await reload();
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy(null);
    }
  };

  const publish = async () => {
    const deploy = toPublish;
    if (deploy === null) return;
    await act(deploy, () => api.publishDeploy(site.id, deploy.id), "Deploy published. The site serves it now.");
    setToPublish(null);
  };

  if (deploys.data === null && deploys.loading) return <LoadingNotice>Loading deploys…</LoadingNotice>;
  if (deploys.data === null) {
    return (
      <ErrorNotice title="Could not load the deploys" onRetry={() => void reload()}>
        {describeError(deploys.error)}
      </ErrorNotice>
    );
  }
  if (deploys.data.length === 0) {
    return (
      <EmptyState title="No deploys yet">
        Drop a folder on the site&apos;s Overview tab, or deploy from the command line.
      </EmptyState>
    );
  }

  return (
    <div className="space-y-4">
      {notice !== null && <SuccessNotice>{notice}</SuccessNotice>}
      {actionError !== null && (
        <ErrorNotice title="That did not work">{describeError(actionError)}</ErrorNotice>
      )}
      <ul className="divide-y divide-slate-200 overflow-hidden rounded-lg border border-slate-200 bg-white shadow-sm" aria-label="Deploys">
        {deploys.data.map((deploy) => (
          <li key={deploy.id}>
            <DeployRow
              deploy={deploy}
              busy={busy === deploy.id}
              onPublish={() => setToPublish(deploy)}
              onCancel={() => void act(deploy, () => api.cancelDeploy(deploy.id), "Deploy canceled.")}
            />
          </li>
        ))}
      </ul>
      <ConfirmDialog
        open={toPublish !== null}
        title="Publish this deploy?"
        confirmLabel="Publish deploy"
        busy={busy !== null}
        onConfirm={() => void publish()}
        onCancel={() => setToPublish(null)}
      >
        {toPublish !== null && (
          <>
            <p>
              {site.name} will serve the deploy from{" "}
              {formatDateTime(toPublish.created_at)}
              {toPublish.title ? ` (“${toPublish.title}”)` : ""} on the next request, instead of
              the one it serves now.
            </p>
            {!toPublish.locked && (
              <p className="mt-2">
                Auto publishing stays on: the next production deploy replaces it again.
              </p>
            )}
          </>
        )}
      </ConfirmDialog>
    </div>
  );
}

function DeployRow({
  deploy,
  busy,
  onPublish,
  onCancel,
}: {
  deploy: Deploy;
  busy: boolean;
  onPublish: () => void;
  onCancel: () => void;
}) {
  const canPublish = deploy.state === "ready" && !deploy.published;
  const canCancel = isDeployInProgress(deploy.state);
  return (
    <article
      className="flex flex-col gap-3 p-4 sm:flex-row sm:items-center sm:justify-between"
      data-deploy-id={deploy.id}
      aria-label={`Deploy ${deploy.title ?? deploy.id}`}
    >
      <div className="min-w-0 space-y-1">
        <div className="flex flex-wrap items-center gap-2">
          <DeployStateBadge state={deploy.state} />
          {deploy.published && <PublishedBadge />}
          <span className="text-sm font-medium text-slate-900">{contextLabel(deploy.context)}</span>
          {deploy.branch !== null && (
            <span className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-slate-700">
              {deploy.branch}
            </span>
          )}
        </div>
        <p className="text-sm break-words text-slate-800">{deploy.title ?? deploySourceLabel(deploy.deploy_source)}</p>
        <p className="text-xs text-slate-500">
          <time dateTime={deploy.created_at} title={formatDateTime(deploy.created_at)}>
            {formatAge(deploy.created_at)}
          </time>
          {" · "}
          {deploy.file_count} {deploy.file_count === 1 ? "file" : "files"}
          {" · "}
          <ExternalLink href={deploy.deploy_url}>{displayUrl(deploy.deploy_url)}</ExternalLink>
        </p>
        {deploy.state === "error" && deploy.error_message !== null && (
          <p className="text-sm text-red-700">{deploy.error_message}</p>
        )}
      </div>
      <div className="flex shrink-0 gap-2">
        {canPublish && (
          <Button kind="secondary" onClick={onPublish} disabled={busy}>
            Publish deploy
          </Button>
        )}
        {canCancel && (
          <Button kind="danger" onClick={onCancel} disabled={busy}>
            {busy ? "Canceling…" : "Cancel"}
          </Button>
        )}
      </div>
    </article>
  );
}

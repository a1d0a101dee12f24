"use client";

// A site's deploys, newest first: state, context, branch, commit message and short SHA (linked to
// the repository), time, build duration and each deploy's own URL, each linked to its page with
// the build log; "Publish deploy" (with a confirmation) for ready ones that are not live,
// "Cancel" for those still on their way. Refreshes itself while any deploy is in progress.

import { useEffect, useState } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { Deploy, Site } from "@/lib/api/types";
import { displayUrl, formatAge, formatDateTime, formatDuration } from "@/lib/format";
import { deployPath } from "@/lib/routes";
import { useApiData } from "@/lib/use_api_data";
import { useAsyncAction } from "@/lib/use_form_submit";
import { TriggerDeployButton } from "@/components/sites/TriggerDeployButton";
import { ConfirmDialog } from "@/components/ui/ConfirmDialog";
import {
  Button,
  EmptyState,
  ErrorNotice,
  ExternalLink,
  LoadingNotice,
  SuccessNotice,
  buttonClass,
  linkClass,
} from "@/components/ui/ui";
import { BranchChip, CommitRef, DeployContext, deployTitle } from "./DeployMeta";
import { DeployStateBadge, PublishedBadge, isDeployInProgress } from "./DeployStateBadge";

const kRefreshMs = 2000;

export function DeployList({ site }: { site: Site }) {
  const deploys = useApiData(() => api.listDeploys(site.id), [site.id]);
  const [toPublish, setToPublish] = useState<Deploy | null>(null);
  const action = useAsyncAction();
  const [changing, setChanging] = useState<string | null>(null); // id of the deploy acted on
  const busy = action.busy ? changing : null;
  const [notice, setNotice] = useState<string | null>(null);

  const anyInProgress = deploys.data?.some((d) => isDeployInProgress(d.state)) ?? false;
  const { reload } = deploys;
  useEffect(() => {
    if (!anyInProgress) return;
    const timer = setInterval(() => void reload(), kRefreshMs);
    return () => clearInterval(timer);
  }, [anyInProgress, reload]);

  const act = async (deploy: Deploy, send: () => Promise<unknown>, done: string) => {
    setChanging(deploy.id);
    setNotice(null);
    await action.run(async () => {
      await send();
      setNotice(done);
      await reload();
    });
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
  // Builds need a source: a repository, or commits pushed to the site's git remote.
  const buildable =
    site.build_settings.provider === "github" ||
    site.build_settings.provider === "git" ||
    deploys.data.some((d) => d.deploy_source === "git" || d.build_id !== null);
  const trigger = buildable ? (
    <div className="flex justify-end">
      <TriggerDeployButton site={site} onTriggered={() => void reload()} />
    </div>
  ) : null;
  if (deploys.data.length === 0) {
    return (
      <div className="space-y-4">
        {trigger}
        <EmptyState title="No deploys yet">
          Drop a folder on the site&apos;s Overview tab, push to its git remote, or deploy from the
          command line.
        </EmptyState>
      </div>
    );
  }

  return (
    <div className="space-y-4">
      {trigger}
      {notice !== null && <SuccessNotice>{notice}</SuccessNotice>}
      {action.error !== null && (
        <ErrorNotice title="That did not work">{describeError(action.error)}</ErrorNotice>
      )}
      <ul className="divide-y divide-slate-200 overflow-hidden rounded-lg border border-slate-200 bg-white shadow-sm" aria-label="Deploys">
        {deploys.data.map((deploy) => (
          <li key={deploy.id}>
            <DeployRow
              siteName={site.name}
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
              {toPublish.title ? ` (“${deployTitle(toPublish)}”)` : ""} on the next request, instead of
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
  siteName,
  deploy,
  busy,
  onPublish,
  onCancel,
}: {
  siteName: string;
  deploy: Deploy;
  busy: boolean;
  onPublish: () => void;
  onCancel: () => void;
}) {
  // Branch deploys and previews have their own URLs; only production deploys go live.
  const canPublish = deploy.state === "ready" && !deploy.published && deploy.context === "production";
  const inProgress = isDeployInProgress(deploy.state);
  const building = deploy.state === "building" || deploy.state === "queued";
  const href = deployPath(siteName, deploy.id);
  const alias = deploy.context !== "production" ? deploy.links?.alias : undefined;
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
          <DeployContext deploy={deploy} />
          {deploy.branch !== null && deploy.branch !== "" && <BranchChip branch={deploy.branch} />}
        </div>
        <p className="text-sm break-words text-slate-800">
          <a href={href} className={linkClass}>
            {deployTitle(deploy)}
          </a>
          {deploy.commit_ref ? (
            <>
              {" "}
              <span className="text-slate-400" aria-hidden="true">
                ·
              </span>{" "}
              <CommitRef deploy={deploy} />
            </>
          ) : null}
        </p>
        <p className="text-xs break-words text-slate-500">
          <time dateTime={deploy.created_at} title={formatDateTime(deploy.created_at)}>
            {formatAge(deploy.created_at)}
          </time>
          {deploy.deploy_time !== null && deploy.deploy_time !== undefined && (
            <>
              {" · "}
              <span title="Build time">{formatDuration(deploy.deploy_time)}</span>
            </>
          )}
          {deploy.file_count > 0 && (
            <>
              {" · "}
              {deploy.file_count} {deploy.file_count === 1 ? "file" : "files"}
            </>
          )}
          {" · "}
          <ExternalLink href={deploy.deploy_url}>{displayUrl(deploy.deploy_url)}</ExternalLink>
          {alias !== undefined && alias !== "" && (
            <>
              {" · "}
              <ExternalLink href={alias}>{displayUrl(alias)}</ExternalLink>
            </>
          )}
        </p>
        {deploy.state === "error" && deploy.error_message !== null && (
          <p className="text-sm text-red-700">{deploy.error_message}</p>
        )}
      </div>
      <div className="flex shrink-0 flex-wrap gap-2">
        {building && (
          <a href={href} className={buttonClass("secondary")}>
            View live log
          </a>
        )}
        {canPublish && (
          <Button kind="secondary" onClick={onPublish} disabled={busy}>
            Publish deploy
          </Button>
        )}
        {inProgress && (
          <Button kind="danger" onClick={onCancel} disabled={busy}>
            {busy ? "Canceling…" : "Cancel"}
          </Button>
        )}
      </div>
    </article>
  );
}

// Small pieces that describe a deploy, shared by the deploy list and a deploy's page: its
// title, context (with the pull request), branch and commit.

import type { Deploy } from "@/lib/api/types";
import { contextLabel, deploySourceLabel, firstLine, shortSha } from "@/lib/format";
import { ExternalLink } from "@/components/ui/ui";

// The commit message's first line, else how the deploy was made.
export function deployTitle(deploy: Deploy): string {
  const title = deploy.title !== null ? firstLine(deploy.title) : "";
  return title !== "" ? title : deploySourceLabel(deploy.deploy_source);
}

export function DeployContext({ deploy }: { deploy: Deploy }) {
  const label = contextLabel(deploy.context);
  if (deploy.context === "deploy-preview" && deploy.review_id !== null) {
    const pr = `#${deploy.review_id}`;
    return (
      <span className="text-sm font-medium text-slate-900">
        {label}{" "}
        {deploy.review_url ? (
          <ExternalLink href={deploy.review_url} label={`pull request ${pr}`}>
            {pr}
          </ExternalLink>
        ) : (
          pr
        )}
      </span>
    );
  }
  return <span className="text-sm font-medium text-slate-900">{label}</span>;
}

export function BranchChip({ branch }: { branch: string }) {
  return (
    <span className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs break-all text-slate-700">
      <span className="sr-only">branch </span>
      {branch}
    </span>
  );
}

// The short SHA, linked to the commit when the repository has a web page for it.
export function CommitRef({ deploy }: { deploy: Deploy }) {
  if (deploy.commit_ref === null || deploy.commit_ref === "") return null;
  const sha = shortSha(deploy.commit_ref);
  return deploy.commit_url ? (
    <ExternalLink href={deploy.commit_url} label={`commit ${sha}`}>
      <span className="font-mono">{sha}</span>
    </ExternalLink>
  ) : (
    <span className="font-mono text-slate-700" title={`commit ${deploy.commit_ref}`}>
      {sha}
    </span>
  );
}

"use client";

// "Trigger deploy": builds the head of the production branch again, then points to the new
// deploy's live log.

import { useState } from "react";

import { api } from "@/lib/api/client";
import { ApiError, describeError } from "@/lib/api/errors";
import type { Build, Site } from "@/lib/api/types";
import { deployPath } from "@/lib/routes";
import { useAsyncAction } from "@/lib/use_form_submit";
import { Button, linkClass } from "@/components/ui/ui";

export function TriggerDeployButton({
  site,
  onTriggered,
}: {
  site: Site;
  onTriggered?: (build: Build) => void;
}) {
  const { busy, error, run } = useAsyncAction();
  const [build, setBuild] = useState<Build | null>(null);

  const trigger = async () => {
    setBuild(null);
    await run(async () => {
      const b = await api.triggerBuild(site.id);
      setBuild(b);
      onTriggered?.(b);
    });
  };

  return (
    <div className="flex flex-col items-start gap-2 sm:items-end">
      <Button onClick={() => void trigger()} disabled={busy}>
        {busy ? "Starting…" : "Trigger deploy"}
      </Button>
      <div aria-live="polite" className="text-sm">
        {build !== null && (
          <p className="text-emerald-800">
            Build started.{" "}
            <a href={deployPath(site.name, build.deploy_id)} className={linkClass}>
              Follow its log
            </a>
          </p>
        )}
        {error !== null && <p className="text-red-700">{triggerErrorText(error)}</p>}
      </div>
    </div>
  );
}

export function triggerErrorText(error: unknown): string {
  if (error instanceof ApiError && error.code === "no_source") {
    return "Nothing to build yet: connect a repository or push to the site's git remote first.";
  }
  return describeError(error);
}

"use client";

// Auto publishing on or off. Stopping it locks the site to its published deploy: new production
// deploys are kept (each at its own URL) but not published until it is started again.

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { Deploy } from "@/lib/api/types";
import { useAsyncAction } from "@/lib/use_form_submit";
import { Button, Card, ErrorNotice } from "@/components/ui/ui";

export function AutoPublishLock({
  published,
  latest,
  onChanged,
}: {
  published: Deploy | null;
  latest: Deploy | null;
  onChanged: () => Promise<void>;
}) {
  const { busy, error, run } = useAsyncAction();
  const locked = (published ?? latest)?.locked ?? false;

  const toggle = () =>
    run(async () => {
      if (locked) {
        const any = published ?? latest;
        if (any !== null) await api.unlockDeploy(any.id);
      } else if (published !== null) {
        await api.lockDeploy(published.id);
      }
      await onChanged();
    });

  return (
    <Card title="Auto publishing">
      <div className="flex flex-col gap-4 sm:flex-row sm:items-center sm:justify-between">
        <p className="text-sm text-slate-700" data-testid="auto-publish-state">
          {locked ? (
            <>
              <span className="font-semibold text-amber-800">Stopped.</span> The site stays on its
              published deploy; new production deploys wait until you publish them.
            </>
          ) : (
            <>
              <span className="font-semibold text-emerald-800">On.</span> Every new production
              deploy is published as soon as it is ready.
            </>
          )}
        </p>
        <Button
          kind="secondary"
          onClick={() => void toggle()}
          disabled={busy || (!locked && published === null)}
          title={!locked && published === null ? "Publish a deploy first" : undefined}
        >
          {busy ? "Saving…" : locked ? "Start auto publishing" : "Stop auto publishing"}
        </Button>
      </div>
      {error !== null && (
        <div className="mt-4">
          <ErrorNotice title="Could not change auto publishing">{describeError(error)}</ErrorNotice>
        </div>
      )}
    </Card>
  );
}

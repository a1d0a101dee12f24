"use client";

// Skew protection (docs/edge.md): a page's HTML sets a cookie naming its deploy, and the
// visitor's asset requests that carry it are served from that deploy for a while after a
// publish, so that one page load never mixes two deploys.

import { useState } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { Site } from "@/lib/api/types";
import { useAsyncAction } from "@/lib/use_form_submit";
import { Button, Card, ErrorNotice, SelectField } from "@/components/ui/ui";

export const kSkewWindows: readonly { value: string; label: string }[] = [
  { value: "3600", label: "1 hour" },
  { value: "43200", label: "12 hours" },
  { value: "86400", label: "1 day" },
  { value: "604800", label: "7 days" },
];

function windowLabel(seconds: number): string {
  return kSkewWindows.find((w) => Number(w.value) === seconds)?.label ?? `${seconds} seconds`;
}

export function SkewProtectionCard({ site, onChanged }: { site: Site; onChanged: () => Promise<void> }) {
  const on = site.skew_protection_max_age > 0;
  const [windowSeconds, setWindowSeconds] = useState<string>(on ? String(site.skew_protection_max_age) : "43200");
  const action = useAsyncAction();

  const save = async (seconds: number) => {
    await action.run(async () => {
      await api.setSkewProtection(site.id, seconds);
      await onChanged();
    });
  };

  const options = kSkewWindows.some((w) => w.value === windowSeconds)
    ? kSkewWindows
    : [...kSkewWindows, { value: windowSeconds, label: windowLabel(Number(windowSeconds)) }];
  return (
    <Card
      title="Skew protection"
      description="After a publish, visitors who loaded a page of the previous deploy keep getting its scripts, styles and functions, so a page never runs with parts of two deploys. Pages themselves always come from the live deploy."
    >
      <div className="space-y-4">
        <p className="text-sm text-slate-700" data-testid="skew-state">
          {on
            ? `On: a page's assets come from its own deploy for up to ${windowLabel(site.skew_protection_max_age)} after it was replaced.`
            : "Off: every request gets the live deploy."}
        </p>
        {action.error !== null && (
          <ErrorNotice title="Could not change skew protection">{describeError(action.error)}</ErrorNotice>
        )}
        <SelectField label="Keep earlier deploys for" name="skew_window" value={windowSeconds} options={options} onChange={setWindowSeconds} />
        <div className="flex flex-wrap gap-3">
          <Button type="button" disabled={action.busy} onClick={() => void save(Number(windowSeconds))}>
            {on ? "Save window" : "Turn on skew protection"}
          </Button>
          {on && (
            <Button type="button" kind="secondary" disabled={action.busy} onClick={() => void save(0)}>
              Turn off
            </Button>
          )}
        </div>
      </div>
    </Card>
  );
}

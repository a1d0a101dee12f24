// A deploy's state as a coloured label ("Ready", "Uploading", "Failed", ...).

import { isDeployStateInProgress } from "@/lib/api/types";

const kStyles: Record<string, { label: string; className: string; busy?: boolean }> = {
  new: { label: "New", className: "bg-amber-100 text-amber-900", busy: true },
  uploading: { label: "Uploading", className: "bg-amber-100 text-amber-900", busy: true },
  queued: { label: "Queued", className: "bg-amber-100 text-amber-900", busy: true },
  building: { label: "Building", className: "bg-amber-100 text-amber-900", busy: true },
  processing: { label: "Processing", className: "bg-amber-100 text-amber-900", busy: true },
  ready: { label: "Ready", className: "bg-emerald-100 text-emerald-900" },
  error: { label: "Failed", className: "bg-red-100 text-red-900" },
  canceled: { label: "Canceled", className: "bg-slate-200 text-slate-700" },
};

export function DeployStateBadge({ state }: { state: string }) {
  const style = kStyles[state] ?? { label: state, className: "bg-slate-200 text-slate-700" };
  return (
    <span
      className={`inline-flex items-center gap-1.5 rounded-full px-2.5 py-0.5 text-xs font-semibold ${style.className}`}
      data-state={state}
    >
      {style.busy && (
        <span aria-hidden="true" className="h-1.5 w-1.5 animate-pulse rounded-full bg-current" />
      )}
      {style.label}
    </span>
  );
}

export function PublishedBadge() {
  return (
    <span className="inline-flex items-center rounded-full bg-teal-700 px-2.5 py-0.5 text-xs font-semibold text-white">
      Published
    </span>
  );
}

export function isDeployInProgress(state: string): boolean {
  return isDeployStateInProgress(state);
}

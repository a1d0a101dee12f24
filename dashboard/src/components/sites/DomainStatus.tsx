// A custom domain's state as a coloured label ("Waiting for DNS", "DNS ok", "Active", ...).

import type { DomainState } from "@/lib/api/types";

const kStyles: Record<DomainState, { label: string; className: string }> = {
  pending_dns: { label: "Waiting for DNS", className: "bg-amber-100 text-amber-900" },
  dns_ok: { label: "DNS ok", className: "bg-sky-100 text-sky-900" },
  issuing: { label: "Getting certificate", className: "bg-sky-100 text-sky-900" },
  active: { label: "Active", className: "bg-emerald-100 text-emerald-900" },
  failed: { label: "Failed", className: "bg-red-100 text-red-900" },
};

export function DomainStatus({ state }: { state: DomainState }) {
  const style = kStyles[state] ?? { label: state, className: "bg-slate-200 text-slate-700" };
  return (
    <span
      className={`inline-flex items-center rounded-full px-2.5 py-0.5 text-xs font-semibold ${style.className}`}
      data-state={state}
    >
      {style.label}
    </span>
  );
}

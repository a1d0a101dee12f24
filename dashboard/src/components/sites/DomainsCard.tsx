"use client";

// A site's custom domains: add one, see the DNS records to create (with copy buttons) and what
// the last DNS check found, check again now, pick the primary, remove. Adding example.com or
// www.example.com brings the other along; it redirects to the primary.

import { useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { Domain, Site } from "@/lib/api/types";
import { formatDateTime } from "@/lib/format";
import { useApiData } from "@/lib/use_api_data";
import { useAsyncAction, useFormSubmit } from "@/lib/use_form_submit";
import { ConfirmDialog } from "@/components/ui/ConfirmDialog";
import {
  Button,
  Card,
  CopyButton,
  EmptyState,
  ErrorNotice,
  LoadingNotice,
  TextField,
} from "@/components/ui/ui";
import { DomainStatus } from "./DomainStatus";

type Field = "name";
const kFields: Record<string, Field> = { name: "name" };

export function DomainsCard({ site, onChanged }: { site: Site; onChanged: () => Promise<void> }) {
  const domains = useApiData<Domain[]>(() => api.listDomains(site.id), [site.id]);
  const [name, setName] = useState("");
  const { busy, errors, formRef, submit: send, setFieldErrors } = useFormSubmit(kFields);

  const refresh = async () => {
    await domains.reload();
    await onChanged();
  };

  const add = async (e: FormEvent) => {
    e.preventDefault();
    if (name.trim() === "") {
      setFieldErrors({ name: "Enter a domain name, such as www.example.com" });
      return;
    }
    const ok = await send(async () => {
      await api.addDomain(site.id, name.trim());
      await refresh();
    });
    if (ok) setName("");
  };

  return (
    <Card
      title="Domains"
      description={`Serve ${site.name} at your own domain. Create the DNS records shown below at your DNS provider; the check runs by itself, or click "Check DNS now".`}
    >
      <div className="space-y-4">
        <form ref={formRef} onSubmit={(e) => void add(e)} noValidate className="space-y-3">
          {errors.form !== null && <ErrorNotice title="Could not add the domain">{errors.form}</ErrorNotice>}
          <div className="flex flex-col gap-2 sm:flex-row sm:items-end">
            <div className="flex-1">
              <TextField
                label="Domain"
                name="name"
                value={name}
                onChange={setName}
                placeholder="www.example.com"
                error={errors.fields.name}
                hint="Adding example.com also adds www.example.com (and back); the one you add is served, the other redirects to it."
              />
            </div>
            <Button type="submit" disabled={busy}>
              {busy ? "Adding…" : "Add domain"}
            </Button>
          </div>
        </form>
        {domains.data === null && domains.loading && <LoadingNotice />}
        {domains.error !== null && (
          <ErrorNotice title="Could not load the domains" onRetry={() => void domains.reload()}>
            {describeError(domains.error)}
          </ErrorNotice>
        )}
        {domains.data !== null && domains.data.length === 0 && (
          <EmptyState title="No custom domains yet">
            {`${site.name} is served at its own address until you add one.`}
          </EmptyState>
        )}
        {domains.data !== null && domains.data.length > 0 && (
          <ul className="space-y-4" data-testid="domain-list">
            {domains.data.map((d) => (
              <DomainItem key={d.id} site={site} domain={d} onChanged={refresh} />
            ))}
          </ul>
        )}
      </div>
    </Card>
  );
}

function DomainItem({ site, domain, onChanged }: { site: Site; domain: Domain; onChanged: () => Promise<void> }) {
  const action = useAsyncAction();
  const [confirmRemove, setConfirmRemove] = useState(false);
  const run = (what: () => Promise<unknown>) =>
    void action.run(async () => {
      await what();
      await onChanged();
    });

  return (
    <li className="rounded-md border border-slate-200 p-4" data-domain={domain.name}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <div className="flex flex-wrap items-center gap-2">
          <span className="font-mono text-sm font-semibold text-slate-900">{domain.name}</span>
          <DomainStatus state={domain.state} />
          {domain.primary && (
            <span className="rounded-full bg-teal-700 px-2.5 py-0.5 text-xs font-semibold text-white">Primary</span>
          )}
          {domain.redirect_to !== null && (
            <span className="text-xs text-slate-600">redirects to {domain.redirect_to}</span>
          )}
        </div>
        <div className="flex flex-wrap gap-2">
          <Button kind="secondary" disabled={action.busy} onClick={() => run(() => api.checkDomain(site.id, domain.name))}>
            Check DNS now
          </Button>
          {!domain.primary && (
            <Button
              kind="secondary"
              disabled={action.busy}
              onClick={() => run(() => api.makeDomainPrimary(site.id, domain.name))}
            >
              Make primary
            </Button>
          )}
          <Button kind="secondary" disabled={action.busy} onClick={() => setConfirmRemove(true)}>
            Remove
          </Button>
        </div>
      </div>
      {action.error !== null && (
        <div className="mt-3">
          <ErrorNotice title="That did not work">{describeError(action.error)}</ErrorNotice>
        </div>
      )}
      {domain.state_reason !== "" && (
        <p className="mt-2 text-sm text-slate-700" data-testid="domain-reason">
          {domain.state_reason}
          {domain.next_check_at !== null && ` Next check: ${formatDateTime(domain.next_check_at)}.`}
        </p>
      )}
      <DnsInstructions domain={domain} />
      <DnsCheckReport domain={domain} />
      <ConfirmDialog
        open={confirmRemove}
        title={`Remove ${domain.name}?`}
        confirmLabel="Remove domain"
        confirmKind="danger"
        busy={action.busy}
        onConfirm={() => {
          setConfirmRemove(false);
          run(() => api.removeDomain(site.id, domain.name));
        }}
        onCancel={() => setConfirmRemove(false)}
      >
        {site.name} will no longer answer at {domain.name}.
      </ConfirmDialog>
    </li>
  );
}

function DnsInstructions({ domain }: { domain: Domain }) {
  if (domain.dns_records.length === 0) {
    return (
      <p className="mt-3 text-sm text-slate-700">
        This platform has no public edge addresses configured for apex domains; use a subdomain such as www.
        {domain.name}, or ask the operator.
      </p>
    );
  }
  return (
    <div className="mt-3" data-testid="dns-instructions">
      <p className="text-sm font-medium text-slate-800">Create at your DNS provider:</p>
      <table className="mt-2 w-full text-left text-sm">
        <thead className="text-slate-600">
          <tr>
            <th className="py-1 pr-3 font-medium">Type</th>
            <th className="py-1 pr-3 font-medium">Name</th>
            <th className="py-1 pr-3 font-medium">Value</th>
            <th className="py-1" />
          </tr>
        </thead>
        <tbody>
          {domain.dns_records.map((r) => (
            <tr key={`${r.type}-${r.value}`} className="border-t border-slate-100">
              <td className="py-1 pr-3 font-mono">{r.type}</td>
              <td className="py-1 pr-3 font-mono break-all">{r.name}</td>
              <td className="py-1 pr-3 font-mono break-all" data-testid="dns-value">
                {r.value}
              </td>
              <td className="py-1">
                <CopyButton text={r.value} label={`Copy ${r.type} value for ${r.name}`} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function DnsCheckReport({ domain }: { domain: Domain }) {
  const report = domain.dns_report;
  if (report === null) return null;
  return (
    <details className="mt-3 text-sm">
      <summary className="cursor-pointer font-medium text-slate-800">
        Last DNS check ({formatDateTime(new Date(report.checked_at).toISOString())}): {report.ok ? "all right" : "not yet right"}
      </summary>
      <ul className="mt-2 space-y-1">
        {report.records.map((r) => (
          <li key={`${r.type}-${r.name}`} className={r.ok ? "text-emerald-800" : "text-red-800"}>
            <span className="font-mono">
              {r.type} {r.name}
            </span>
            : found {r.found.length > 0 ? r.found.join(" → ") : "nothing"}, expected {r.expected.join(", ") || "none"}
            {r.note !== "" && ` (${r.note})`}
          </li>
        ))}
      </ul>
    </details>
  );
}

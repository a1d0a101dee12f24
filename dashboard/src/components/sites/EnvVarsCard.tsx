"use client";

// A site's environment variables: the keys with their values hidden (revealed one at a time by
// the owner), a form to add or change one, and delete with a confirmation. The builds get them;
// the build log masks them.

import { useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { EnvContext, EnvVar, Site } from "@/lib/api/types";
import { useApiData } from "@/lib/use_api_data";
import { useAsyncAction, useFormSubmit } from "@/lib/use_form_submit";
import { ConfirmDialog } from "@/components/ui/ConfirmDialog";
import { Button, Card, ErrorNotice, LoadingNotice, SelectField, SuccessNotice, TextField } from "@/components/ui/ui";

export const kEnvContexts: readonly { value: EnvContext; label: string }[] = [
  { value: "all", label: "All deploys" },
  { value: "production", label: "Production" },
  { value: "deploy-preview", label: "Deploy previews" },
  { value: "branch-deploy", label: "Branch deploys" },
];

function contextName(context: string): string {
  return kEnvContexts.find((c) => c.value === context)?.label ?? context;
}

export function EnvVarsCard({ site }: { site: Site }) {
  const vars = useApiData(() => api.listEnv(site.id), [site.id]);
  const [toDelete, setToDelete] = useState<string | null>(null);
  const deletion = useAsyncAction();
  const [notice, setNotice] = useState<string | null>(null);

  const remove = async () => {
    if (toDelete === null) return;
    setNotice(null);
    await deletion.run(async () => {
      await api.deleteEnv(site.id, toDelete);
      setNotice(`${toDelete} deleted.`);
      await vars.reload();
    });
    setToDelete(null);
  };

  const saved = async (key: string) => {
    setNotice(`${key} saved. The next build uses it.`);
    deletion.clearError();
    await vars.reload();
  };

  return (
    <Card
      title="Environment variables"
      description="Given to every build of this site (for example API keys). Values are stored encrypted and masked in build logs."
    >
      <div className="space-y-6">
        {vars.data === null && vars.loading && <LoadingNotice>Loading variables…</LoadingNotice>}
        {vars.error !== null && (
          <ErrorNotice title="Could not load the variables" onRetry={() => void vars.reload()}>
            {describeError(vars.error)}
          </ErrorNotice>
        )}
        {vars.data !== null && vars.data.length === 0 && (
          <p className="text-sm text-slate-600">No environment variables yet.</p>
        )}
        {vars.data !== null && vars.data.length > 0 && (
          <ul aria-label="Environment variables" className="divide-y divide-slate-200 rounded-md border border-slate-200">
            {vars.data.map((v) => (
              <li key={v.key}>
                <EnvVarRow
                  siteId={site.id}
                  envVar={v}
                  onSaved={() => saved(v.key)}
                  onDelete={() => setToDelete(v.key)}
                />
              </li>
            ))}
          </ul>
        )}
        {notice !== null && <SuccessNotice>{notice}</SuccessNotice>}
        {deletion.error !== null && (
          <ErrorNotice title="Could not delete the variable">{describeError(deletion.error)}</ErrorNotice>
        )}
        <NewEnvVarForm siteId={site.id} onSaved={saved} />
      </div>
      <ConfirmDialog
        open={toDelete !== null}
        title="Delete this variable?"
        confirmLabel="Delete variable"
        confirmKind="danger"
        busy={deletion.busy}
        onConfirm={() => void remove()}
        onCancel={() => setToDelete(null)}
      >
        Builds after this one no longer get {toDelete}, in any deploy context.
      </ConfirmDialog>
    </Card>
  );
}

function EnvVarRow({
  siteId,
  envVar,
  onSaved,
  onDelete,
}: {
  siteId: string;
  envVar: EnvVar;
  onSaved: () => Promise<void>;
  onDelete: () => void;
}) {
  const [revealed, setRevealed] = useState(false);
  const [editing, setEditing] = useState<EnvContext | null>(null);
  return (
    <div className="space-y-2 p-3" data-env-key={envVar.key}>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <p className="font-mono text-sm font-semibold break-all text-slate-900">{envVar.key}</p>
        <div className="flex gap-1">
          <Button
            kind="quiet"
            onClick={() => setRevealed((r) => !r)}
            aria-pressed={revealed}
            aria-label={`${revealed ? "Hide" : "Reveal"} value of ${envVar.key}`}
          >
            {revealed ? "Hide" : "Reveal"}
          </Button>
          <Button kind="quiet" onClick={onDelete} aria-label={`Delete ${envVar.key}`}>
            Delete
          </Button>
        </div>
      </div>
      <dl className="space-y-1">
        {envVar.values.map((v) => (
          <div key={v.context} className="flex flex-col gap-1 text-sm sm:flex-row sm:items-center sm:gap-3">
            <dt className="shrink-0 text-slate-600 sm:w-36">{contextName(v.context)}</dt>
            <dd className="flex min-w-0 flex-1 flex-wrap items-center gap-2">
              {editing === v.context ? (
                <EditValueForm
                  siteId={siteId}
                  envKey={envVar.key}
                  context={v.context as EnvContext}
                  initial={revealed ? v.value : ""}
                  onDone={async (changed) => {
                    setEditing(null);
                    if (changed) await onSaved();
                  }}
                />
              ) : (
                <>
                  <code
                    className="min-w-0 rounded bg-slate-100 px-2 py-1 font-mono text-xs break-all text-slate-800"
                    data-testid="env-value"
                  >
                    {revealed ? (
                      v.value === "" ? <span className="text-slate-500 italic">(empty)</span> : v.value
                    ) : (
                      <>
                        <span aria-hidden="true">••••••••</span>
                        <span className="sr-only">hidden value</span>
                      </>
                    )}
                  </code>
                  <Button
                    kind="quiet"
                    className="min-h-8 px-2 py-1"
                    onClick={() => setEditing(v.context as EnvContext)}
                    aria-label={`Change ${envVar.key} for ${contextName(v.context)}`}
                  >
                    Change
                  </Button>
                </>
              )}
            </dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

function EditValueForm({
  siteId,
  envKey,
  context,
  initial,
  onDone,
}: {
  siteId: string;
  envKey: string;
  context: EnvContext;
  initial: string;
  onDone: (changed: boolean) => Promise<void>;
}) {
  const [value, setValue] = useState(initial);
  const { busy, error, run } = useAsyncAction();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      await api.setEnv(siteId, envKey, value, context);
      await onDone(true);
    });
  };

  return (
    <form
      onSubmit={(e) => void submit(e)}
      onKeyDown={(e) => {
        if (e.key === "Escape") void onDone(false);
      }}
      noValidate
      className="flex w-full flex-col gap-2 sm:flex-row sm:items-start"
    >
      <div className="flex-1">
        <TextField
          label={`New value of ${envKey} (${contextName(context)})`}
          name="value"
          value={value}
          onChange={setValue}
          error={error !== null ? describeError(error) : null}
          autoComplete="off"
          autoFocus
        />
      </div>
      <div className="flex gap-2 sm:mt-6">
        <Button type="submit" disabled={busy}>
          {busy ? "Saving…" : "Save"}
        </Button>
        <Button kind="secondary" onClick={() => void onDone(false)} disabled={busy}>
          Cancel
        </Button>
      </div>
    </form>
  );
}

type Field = "key" | "value" | "context";
const kFields: Record<string, Field> = { key: "key", value: "value", context: "context" };

function NewEnvVarForm({ siteId, onSaved }: { siteId: string; onSaved: (key: string) => Promise<void> }) {
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [context, setContext] = useState<EnvContext>("all");
  const { busy, errors, formRef, submit: send, setFieldErrors } = useFormSubmit(kFields);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const trimmed = key.trim();
    if (trimmed === "") {
      setFieldErrors({ key: "Key is required" });
      return;
    }
    await send(async () => {
      await api.setEnv(siteId, trimmed, value, context);
      setKey("");
      setValue("");
      setContext("all");
      await onSaved(trimmed);
    });
  };

  return (
    <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="space-y-4 border-t border-slate-200 pt-4">
      <h3 className="text-sm font-semibold text-slate-900">Add a variable</h3>
      <div className="grid gap-4 sm:grid-cols-3">
        <TextField
          label="Key"
          name="key"
          value={key}
          onChange={setKey}
          error={errors.fields.key}
          placeholder="API_KEY"
          hint="Letters, digits and _, not starting with a digit."
          autoComplete="off"
        />
        <TextField
          label="Value"
          name="value"
          value={value}
          onChange={setValue}
          error={errors.fields.value}
          autoComplete="off"
        />
        <SelectField
          label="Deploy context"
          name="context"
          value={context}
          options={kEnvContexts}
          onChange={setContext}
          error={errors.fields.context}
          hint="A context's own value wins over “All deploys”."
        />
      </div>
      {errors.form !== null && <ErrorNotice title="Could not save the variable">{errors.form}</ErrorNotice>}
      <Button type="submit" disabled={busy}>
        {busy ? "Saving…" : "Save variable"}
      </Button>
    </form>
  );
}

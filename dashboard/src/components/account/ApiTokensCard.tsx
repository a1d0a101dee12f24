"use client";

// Personal API tokens for the CLI and netlify-cli: create one (its secret is shown once), see
// the live ones, revoke.

import { useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { ApiToken, CreatedApiToken } from "@/lib/api/types";
import { formatAge, formatDateTime } from "@/lib/format";
import { useApiData } from "@/lib/use_api_data";
import { useAsyncAction, useFormSubmit } from "@/lib/use_form_submit";
import { ConfirmDialog } from "@/components/ui/ConfirmDialog";
import { Button, Card, CopyableText, ErrorNotice, LoadingNotice, TextField } from "@/components/ui/ui";

export function ApiTokensCard() {
  const tokens = useApiData(() => api.listTokens(), []);
  const [created, setCreated] = useState<CreatedApiToken | null>(null);
  const [toRevoke, setToRevoke] = useState<ApiToken | null>(null);
  const revocation = useAsyncAction();

  const revoke = async () => {
    if (toRevoke === null) return;
    await revocation.run(async () => {
      await api.revokeToken(toRevoke.id);
      if (created?.id === toRevoke.id) setCreated(null);
      await tokens.reload();
    });
    setToRevoke(null);
  };

  return (
    <Card
      title="API tokens"
      description="For the replideploy CLI, netlify-cli (NETLIFY_AUTH_TOKEN) and scripts. A token acts as you until you revoke it."
    >
      <div className="space-y-6">
        <NewTokenForm
          onCreated={(t) => {
            setCreated(t);
            void tokens.reload();
          }}
        />
        {created !== null && <CreatedTokenNotice token={created} onDone={() => setCreated(null)} />}
        {revocation.error !== null && (
          <ErrorNotice title="Could not revoke the token">{describeError(revocation.error)}</ErrorNotice>
        )}
        {tokens.data === null && tokens.loading && <LoadingNotice>Loading tokens…</LoadingNotice>}
        {tokens.error !== null && (
          <ErrorNotice title="Could not load your tokens" onRetry={() => void tokens.reload()}>
            {describeError(tokens.error)}
          </ErrorNotice>
        )}
        {tokens.data !== null && tokens.data.length === 0 && (
          <p className="text-sm text-slate-600">You have no API tokens.</p>
        )}
        {tokens.data !== null && tokens.data.length > 0 && (
          <ul aria-label="API tokens" className="divide-y divide-slate-200 rounded-md border border-slate-200">
            {tokens.data.map((t) => (
              <li key={t.id} className="flex flex-col gap-2 p-3 sm:flex-row sm:items-center sm:justify-between">
                <div className="min-w-0">
                  <p className="font-medium break-words text-slate-900">{t.name}</p>
                  <p className="text-xs text-slate-500">
                    Created{" "}
                    <time dateTime={t.created_at} title={formatDateTime(t.created_at)}>
                      {formatAge(t.created_at)}
                    </time>
                    {" · "}
                    {t.last_used_at !== null ? (
                      <>
                        last used{" "}
                        <time dateTime={t.last_used_at} title={formatDateTime(t.last_used_at)}>
                          {formatAge(t.last_used_at)}
                        </time>
                      </>
                    ) : (
                      "never used"
                    )}
                  </p>
                </div>
                <Button kind="secondary" onClick={() => setToRevoke(t)} aria-label={`Revoke token ${t.name}`}>
                  Revoke
                </Button>
              </li>
            ))}
          </ul>
        )}
      </div>
      <ConfirmDialog
        open={toRevoke !== null}
        title="Revoke this token?"
        confirmLabel="Revoke token"
        confirmKind="danger"
        busy={revocation.busy}
        onConfirm={() => void revoke()}
        onCancel={() => setToRevoke(null)}
      >
        Anything using “{toRevoke?.name}” stops working at once.
      </ConfirmDialog>
    </Card>
  );
}

type Field = "name";
const kFields: Record<string, Field> = { name: "name" };

function NewTokenForm({ onCreated }: { onCreated: (token: CreatedApiToken) => void }) {
  const [name, setName] = useState("");
  const { busy, errors, formRef, submit: send } = useFormSubmit(kFields);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await send(async () => {
      onCreated(await api.createToken(name.trim()));
      setName("");
    });
  };

  return (
    <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="flex flex-col gap-3 sm:flex-row sm:items-start">
      <div className="flex-1">
        <TextField
          label="Token name"
          name="name"
          value={name}
          onChange={setName}
          error={errors.fields.name}
          placeholder="laptop"
          hint="Something that tells you where it is used."
        />
      </div>
      <Button type="submit" disabled={busy} className="sm:mt-6">
        {busy ? "Creating…" : "Create token"}
      </Button>
      {errors.form !== null && <ErrorNotice title="Could not create the token">{errors.form}</ErrorNotice>}
    </form>
  );
}

function CreatedTokenNotice({ token, onDone }: { token: CreatedApiToken; onDone: () => void }) {
  return (
    <div role="status" className="space-y-3 rounded-md border border-amber-300 bg-amber-50 p-4 text-sm text-amber-950">
      <p>
        <span className="font-semibold">Token “{token.name}” created.</span> Copy it now: it is
        shown only this once.
      </p>
      <CopyableText text={token.token} label="Copy token" />
      <Button kind="secondary" onClick={onDone}>
        I have copied it
      </Button>
    </div>
  );
}

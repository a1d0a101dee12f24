"use client";

// Personal API tokens for the CLI and netlify-cli: create one with the scopes it needs and an
// expiry (its secret is shown once), see the live ones with their scopes, expiry and last use,
// revoke.

import { useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { ApiToken, CreatedApiToken, TokenScope } from "@/lib/api/types";
import { formatAge, formatDateTime } from "@/lib/format";
import { useApiData } from "@/lib/use_api_data";
import { useAsyncAction, useFormSubmit } from "@/lib/use_form_submit";
import { ConfirmDialog } from "@/components/ui/ConfirmDialog";
import {
  Button,
  Card,
  CheckboxField,
  CopyableText,
  ErrorNotice,
  LoadingNotice,
  SelectField,
  TextField,
} from "@/components/ui/ui";

const kScopes: readonly { scope: TokenScope; label: string; description: string }[] = [
  { scope: "deploy", label: "Deploy", description: "Upload, publish, roll back and lock deploys; trigger builds (netlify deploy)." },
  { scope: "sites", label: "Sites", description: "Create, change and delete sites and their environment variables." },
  { scope: "account", label: "Account", description: "API tokens, sessions, the password and the audit log." },
];

type Expiry = "30" | "90" | "365" | "never";
const kExpiries: readonly { value: Expiry; label: string }[] = [
  { value: "30", label: "30 days" },
  { value: "90", label: "90 days" },
  { value: "365", label: "1 year" },
  { value: "never", label: "Never" },
];

function scopesLabel(scopes: TokenScope[]): string {
  if (scopes.length === 4) return "full access";
  const writes = scopes.filter((s) => s !== "read");
  return writes.length === 0 ? "read only" : ["read", ...writes].join(", ");
}

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
      description="For the replideploy CLI, netlify-cli (NETLIFY_AUTH_TOKEN) and scripts. A token acts as you, within its scopes, until it expires or you revoke it. Changing your password does not revoke tokens."
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
                  <p className="font-medium break-words text-slate-900">
                    {t.name} <span className="text-xs font-normal text-slate-600">({scopesLabel(t.scopes)})</span>
                  </p>
                  <p className="text-xs text-slate-500">
                    Created{" "}
                    <time dateTime={t.created_at} title={formatDateTime(t.created_at)}>
                      {formatAge(t.created_at)}
                    </time>
                    {" · "}
                    {t.expires_at !== null ? (
                      <>
                        expires{" "}
                        <time dateTime={t.expires_at} title={formatDateTime(t.expires_at)}>
                          {formatDateTime(t.expires_at)}
                        </time>
                      </>
                    ) : (
                      "never expires"
                    )}
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
  const [scopes, setScopes] = useState<Set<TokenScope>>(new Set(["deploy"]));
  const [expiry, setExpiry] = useState<Expiry>("90");
  const { busy, errors, formRef, submit: send } = useFormSubmit(kFields);

  const toggle = (scope: TokenScope, on: boolean) => {
    const next = new Set(scopes);
    if (on) next.add(scope);
    else next.delete(scope);
    setScopes(next);
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await send(async () => {
      onCreated(
        await api.createToken({
          name: name.trim(),
          // Every scope includes read; none ticked makes a read-only token.
          scopes: ["read", ...kScopes.map((s) => s.scope).filter((s) => scopes.has(s))],
          expires_in_days: expiry === "never" ? undefined : Number(expiry),
        }),
      );
      setName("");
    });
  };

  return (
    <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="flex flex-col gap-3 lg:flex-row lg:items-start">
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
      <fieldset className="flex-1 space-y-2">
        <legend className="text-sm font-medium text-slate-800">Scopes (every token can read)</legend>
        {kScopes.map((s) => (
          <CheckboxField
            key={s.scope}
            label={s.label}
            name={`scope-${s.scope}`}
            checked={scopes.has(s.scope)}
            onChange={(on) => toggle(s.scope, on)}
            hint={s.description}
          />
        ))}
      </fieldset>
      <div className="sm:w-40">
        <SelectField label="Expires after" name="expiry" value={expiry} options={kExpiries} onChange={setExpiry} />
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

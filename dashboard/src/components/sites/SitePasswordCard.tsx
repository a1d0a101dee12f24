"use client";

// Site-wide password protection: a password visitors must enter (browsers get a sign-in page,
// other clients send it as Basic credentials), for every deploy or only previews and branch
// deploys. The password is stored hashed: it can be replaced or removed, never shown.

import { useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import { describeError } from "@/lib/api/errors";
import type { Site, SitePasswordScope } from "@/lib/api/types";
import { useAsyncAction, useFormSubmit } from "@/lib/use_form_submit";
import { ConfirmDialog } from "@/components/ui/ConfirmDialog";
import { Button, Card, ErrorNotice, SelectField, SuccessNotice, TextField } from "@/components/ui/ui";

export const kPasswordScopes: readonly { value: SitePasswordScope; label: string }[] = [
  { value: "all", label: "All deploys, production included" },
  { value: "non_production", label: "Only deploy previews, branch deploys and permalinks" },
];

type Field = "password" | "scope";
const kFields: Record<string, Field> = { password: "password", scope: "scope" };

export function SitePasswordCard({ site, onChanged }: { site: Site; onChanged: () => Promise<void> }) {
  const [password, setPassword] = useState("");
  const [scope, setScope] = useState<SitePasswordScope>(
    site.password_scope === "non_production" ? "non_production" : "all",
  );
  const [notice, setNotice] = useState<string | null>(null);
  const [confirmRemove, setConfirmRemove] = useState(false);
  const { busy, errors, formRef, submit: send, setFieldErrors } = useFormSubmit(kFields);
  const removal = useAsyncAction();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setNotice(null);
    if (password === "") {
      setFieldErrors({ password: "Enter a password" });
      return;
    }
    const ok = await send(async () => {
      await api.setSitePassword(site.id, password, scope);
      await onChanged();
    });
    if (ok) {
      setPassword("");
      setNotice(
        scope === "all"
          ? "Password saved. Every deploy of this site now asks for it."
          : "Password saved. Deploy previews, branch deploys and permalinks now ask for it.",
      );
    }
  };

  const remove = async () => {
    setNotice(null);
    const ok = await removal.run(async () => {
      await api.removeSitePassword(site.id);
      await onChanged();
    });
    setConfirmRemove(false);
    if (ok) setNotice("Password removed. The site is open to everyone.");
  };

  return (
    <Card
      title="Password protection"
      description="Visitors must enter a password before they see the site. Browsers get a sign-in page; scripts can send it as HTTP Basic credentials (any user name)."
    >
      <div className="space-y-4">
        <p className="text-sm text-slate-700" data-testid="password-state">
          {site.has_password
            ? site.password_scope === "non_production"
              ? "On for deploy previews, branch deploys and permalinks. Production is public."
              : "On for every deploy, production included."
            : "Off: everyone can see every deploy."}
        </p>
        {notice !== null && <SuccessNotice>{notice}</SuccessNotice>}
        {removal.error !== null && (
          <ErrorNotice title="Could not remove the password">{describeError(removal.error)}</ErrorNotice>
        )}
        <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="space-y-4">
          {errors.form !== null && (
            <ErrorNotice title="Could not save the password">{errors.form}</ErrorNotice>
          )}
          <div className="grid gap-4 sm:grid-cols-2">
            <TextField
              label={site.has_password ? "New password" : "Password"}
              name="password"
              type="password"
              value={password}
              onChange={setPassword}
              error={errors.fields.password}
              autoComplete="new-password"
            />
            <SelectField
              label="Protect"
              name="scope"
              value={scope}
              options={kPasswordScopes}
              onChange={setScope}
              error={errors.fields.scope}
            />
          </div>
          <div className="flex flex-wrap gap-2">
            <Button type="submit" disabled={busy}>
              {busy ? "Saving…" : site.has_password ? "Change password" : "Turn on password protection"}
            </Button>
            {site.has_password && (
              <Button kind="secondary" onClick={() => setConfirmRemove(true)} disabled={removal.busy}>
                Remove password
              </Button>
            )}
          </div>
        </form>
      </div>
      <ConfirmDialog
        open={confirmRemove}
        title="Remove the password?"
        confirmLabel="Remove password"
        confirmKind="danger"
        busy={removal.busy}
        onConfirm={() => void remove()}
        onCancel={() => setConfirmRemove(false)}
      >
        Everyone will be able to see every deploy of {site.name} again.
      </ConfirmDialog>
    </Card>
  );
}

"use client";

// The site's build settings (used by builds from a repository), saved with PATCH.

import { useState, type FormEvent } from "react";

import { api, type BuildSettings, type Site } from "@/lib/api";
import { formErrorsFrom, kNoErrors, type FormErrors } from "@/lib/form_errors";
import { useFocusFirstError } from "@/lib/use_focus_first_error";
import { Button, Card, ErrorNotice, SuccessNotice, TextField } from "./ui";

type Field = "base" | "cmd" | "dir" | "functions_dir" | "repo_branch";

const kFieldList: { field: Field; label: string; placeholder: string; hint: string }[] = [
  { field: "base", label: "Base directory", placeholder: "(repository root)", hint: "Where the build runs." },
  { field: "cmd", label: "Build command", placeholder: "npm run build", hint: "Leave empty when there is nothing to build." },
  { field: "dir", label: "Publish directory", placeholder: "dist", hint: "The folder the build writes the site to." },
  { field: "functions_dir", label: "Functions directory", placeholder: "netlify/functions", hint: "Serverless functions, one file each." },
  { field: "repo_branch", label: "Production branch", placeholder: "main", hint: "Pushes to this branch are published." },
];

const kApiFields: Record<string, Field> = Object.fromEntries(
  kFieldList.flatMap(({ field }) => [
    [`build_settings.${field}`, field],
    [field, field],
  ]),
);

function pick(settings: BuildSettings): Record<Field, string> {
  return {
    base: settings.base,
    cmd: settings.cmd,
    dir: settings.dir,
    functions_dir: settings.functions_dir,
    repo_branch: settings.repo_branch,
  };
}

export function BuildSettingsForm({ site }: { site: Site }) {
  const [saved, setSaved] = useState(() => pick(site.build_settings));
  const [values, setValues] = useState(saved);
  const [errors, setErrors] = useState<FormErrors<Field>>(kNoErrors);
  const [busy, setBusy] = useState(false);
  const [justSaved, setJustSaved] = useState(false);
  const formRef = useFocusFirstError(errors);
  const dirty = kFieldList.some(({ field }) => values[field] !== saved[field]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setErrors(kNoErrors);
    setJustSaved(false);
    try {
      const updated = await api.updateBuildSettings(site.id, values);
      const fresh = pick(updated.build_settings);
      setSaved(fresh);
      setValues(fresh);
      setJustSaved(true);
    } catch (error) {
      setErrors(formErrorsFrom(error, kApiFields));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Build settings" description="Used when the site is built from a git repository.">
      <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="space-y-4">
        <div className="grid gap-4 sm:grid-cols-2">
          {kFieldList.map(({ field, label, placeholder, hint }) => (
            <TextField
              key={field}
              label={label}
              name={field}
              value={values[field]}
              placeholder={placeholder}
              hint={hint}
              error={errors.fields[field]}
              onChange={(v) => {
                setJustSaved(false);
                setValues((old) => ({ ...old, [field]: v }));
              }}
            />
          ))}
        </div>
        {errors.form !== null && <ErrorNotice title="Could not save">{errors.form}</ErrorNotice>}
        {justSaved && <SuccessNotice>Build settings saved.</SuccessNotice>}
        <div className="flex gap-2">
          <Button type="submit" disabled={busy || !dirty}>
            {busy ? "Saving…" : "Save build settings"}
          </Button>
          {dirty && (
            <Button kind="quiet" onClick={() => setValues(saved)} disabled={busy}>
              Undo changes
            </Button>
          )}
        </div>
      </form>
    </Card>
  );
}

"use client";

// The site's build settings (used by builds from a repository): base, command, publish and
// functions directories, production branch, branch deploys and deploy previews on or off. Saved
// with PATCH, sending only what changed.

import { useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import type { BuildSettings, BuildSettingsUpdate, Site } from "@/lib/api/types";
import { useFormSubmit } from "@/lib/use_form_submit";
import { Button, Card, CheckboxField, ErrorNotice, SuccessNotice, TextField } from "@/components/ui/ui";

type TextFieldName = "base" | "cmd" | "dir" | "functions_dir" | "repo_branch";
type Toggle = "branch_deploys" | "deploy_previews";
type Field = TextFieldName | Toggle;

const kFieldList: { field: TextFieldName; label: string; placeholder: string; hint: string }[] = [
  { field: "base", label: "Base directory", placeholder: "(repository root)", hint: "Where the build runs." },
  { field: "cmd", label: "Build command", placeholder: "npm run build", hint: "Leave empty when there is nothing to build." },
  { field: "dir", label: "Publish directory", placeholder: "dist", hint: "The folder the build writes the site to." },
  { field: "functions_dir", label: "Functions directory", placeholder: "netlify/functions", hint: "Serverless functions, one file each." },
  { field: "repo_branch", label: "Production branch", placeholder: "main", hint: "Pushes to this branch are published." },
];

const kToggles: { field: Toggle; label: string; hint: string; githubOnly: boolean }[] = [
  {
    field: "branch_deploys",
    label: "Branch deploys",
    hint: "Build pushes to other branches too, each at its own branch URL.",
    githubOnly: false,
  },
  {
    field: "deploy_previews",
    label: "Deploy previews",
    hint: "Build every pull request and link the preview from GitHub.",
    githubOnly: true,
  },
];

const kAllFields: Field[] = [...kFieldList.map((f) => f.field), ...kToggles.map((t) => t.field)];

const kApiFields: Record<string, Field> = Object.fromEntries(
  kAllFields.flatMap((field) => [
    [`build_settings.${field}`, field],
    [field, field],
  ]),
);

type Values = Record<TextFieldName, string> & Record<Toggle, boolean>;

function pick(settings: BuildSettings): Values {
  return {
    base: settings.base,
    cmd: settings.cmd,
    dir: settings.dir,
    functions_dir: settings.functions_dir,
    repo_branch: settings.repo_branch,
    branch_deploys: settings.branch_deploys === true,
    deploy_previews: settings.deploy_previews === true,
  };
}

// What differs from the saved settings.
export function changedSettings(saved: Values, values: Values): BuildSettingsUpdate {
  const changes: BuildSettingsUpdate = {};
  for (const field of kAllFields) {
    if (values[field] !== saved[field]) Object.assign(changes, { [field]: values[field] });
  }
  return changes;
}

export function BuildSettingsForm({ site }: { site: Site }) {
  const [saved, setSaved] = useState(() => pick(site.build_settings));
  const [values, setValues] = useState(saved);
  const [justSaved, setJustSaved] = useState(false);
  const { busy, errors, formRef, submit: send } = useFormSubmit(kApiFields);
  const changes = changedSettings(saved, values);
  const dirty = Object.keys(changes).length > 0;
  const github = site.build_settings.provider === "github";

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!dirty) return;
    setJustSaved(false);
    await send(async () => {
      const updated = await api.updateBuildSettings(site.id, changes);
      const fresh = pick(updated.build_settings);
      setSaved(fresh);
      setValues(fresh);
      setJustSaved(true);
    });
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
        <fieldset className="space-y-3">
          <legend className="mb-2 text-sm font-medium text-slate-800">Other branches</legend>
          {kToggles
            .filter((t) => github || !t.githubOnly)
            .map(({ field, label, hint }) => (
              <CheckboxField
                key={field}
                label={label}
                name={field}
                checked={values[field]}
                hint={hint}
                error={errors.fields[field]}
                onChange={(v) => {
                  setJustSaved(false);
                  setValues((old) => ({ ...old, [field]: v }));
                }}
              />
            ))}
        </fieldset>
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

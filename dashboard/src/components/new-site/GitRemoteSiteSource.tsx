"use client";

// New site deployed by `git push` to the platform's own git remote: create the site, then copy
// the two git commands.

import { useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import type { Site } from "@/lib/api/types";
import { siteDeploysPath, sitePath } from "@/lib/routes";
import { useFormSubmit } from "@/lib/use_form_submit";
import { Button, ErrorNotice, SuccessNotice, TextField, linkClass } from "@/components/ui/ui";
import { GitRemoteInstructions } from "./GitRemoteInstructions";

type Field = "name";
const kFields: Record<string, Field> = { name: "name" };

export function GitRemoteSiteSource() {
  const [name, setName] = useState("");
  const [site, setSite] = useState<Site | null>(null);
  const { busy, errors, formRef, submit: send } = useFormSubmit(kFields);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await send(async () => {
      const trimmed = name.trim();
      setSite(await api.createSite(trimmed === "" ? {} : { name: trimmed }));
    });
  };

  if (site !== null) {
    return (
      <div className="space-y-4">
        <SuccessNotice>
          Site <span className="font-semibold">{site.name}</span> created. Push to deploy it.
        </SuccessNotice>
        {site.git_remote_url ? (
          <GitRemoteInstructions remoteUrl={site.git_remote_url} branch={site.build_settings.repo_branch} />
        ) : (
          <ErrorNotice title="No git remote">This server does not offer a git remote for sites.</ErrorNotice>
        )}
        <p className="flex flex-wrap gap-4 text-sm">
          <a href={siteDeploysPath(site.name)} className={linkClass}>
            Watch the deploys
          </a>
          <a href={sitePath(site.name)} className={linkClass}>
            Go to the site overview
          </a>
        </p>
      </div>
    );
  }

  return (
    <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="space-y-4">
      <p className="text-sm text-slate-700">
        Every site has a git remote on this server. Push your project to it: each push to the
        production branch is built and published, other branches become branch deploys.
      </p>
      <TextField
        label="Site name"
        name="name"
        value={name}
        onChange={setName}
        error={errors.fields.name}
        placeholder="my-blog"
        hint="Lower-case letters, digits and single hyphens. Empty: a random name."
      />
      {errors.form !== null && <ErrorNotice title="Could not create the site">{errors.form}</ErrorNotice>}
      <Button type="submit" disabled={busy}>
        {busy ? "Creating…" : "Create site"}
      </Button>
    </form>
  );
}

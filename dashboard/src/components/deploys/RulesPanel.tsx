"use client";

// The "Rules" panel of a ready deploy's page: type a path, see what the edge answers and why,
// rule by rule (POST /api/v1/sites/{site}/rules/test, the edge's own routing; the CLI's
// `replideploy rules test`).

import { useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import type { Deploy, RulesTestResult, Site } from "@/lib/api/types";
import { useFormSubmit } from "@/lib/use_form_submit";
import { Button, Card, ErrorNotice, TextField } from "@/components/ui/ui";

type Field = "url" | "country" | "language" | "cookie" | "roles";
const kFields: Record<string, Field> = {
  url: "url",
  path: "url",
  country: "country",
  language: "language",
  cookie: "cookie",
  roles: "roles",
};

const kOutcomeLabels: Record<string, { label: string; className: string }> = {
  matched: { label: "Matched", className: "bg-teal-100 text-teal-900" },
  shadowed: { label: "Shadowed by a file", className: "bg-amber-100 text-amber-900" },
  role_refused: { label: "Role refused", className: "bg-red-100 text-red-900" },
  not_matched: { label: "Not matched", className: "bg-slate-100 text-slate-700" },
  not_reached: { label: "Not reached", className: "bg-slate-50 text-slate-500" },
};

export function RulesPanel({ site, deploy }: { site: Site; deploy: Deploy }) {
  const [url, setUrl] = useState("/");
  const [country, setCountry] = useState("");
  const [language, setLanguage] = useState("");
  const [cookie, setCookie] = useState("");
  const [roles, setRoles] = useState("");
  const [result, setResult] = useState<RulesTestResult | null>(null);
  const { busy, errors, formRef, submit } = useFormSubmit(kFields);

  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    await submit(async () => {
      const roleList = roles
        .split(",")
        .map((r) => r.trim())
        .filter((r) => r !== "");
      setResult(
        await api.testRules(site.name, {
          url,
          deploy_id: deploy.id,
          country: country || undefined,
          language: language || undefined,
          cookie: cookie || undefined,
          roles: roleList.length > 0 ? roleList : undefined,
        }),
      );
    });
  };

  return (
    <Card
      title="Rules"
      description="What this deploy answers a request, and why: every redirect rule in order, the headers that apply, the file that answers."
    >
      <form ref={formRef} onSubmit={(e) => void onSubmit(e)} noValidate className="grid gap-3" aria-label="Test the rules">
        {errors.form !== null && <ErrorNotice title="Could not test the rules">{errors.form}</ErrorNotice>}
        <TextField
          label="Path or URL"
          name="url"
          value={url}
          onChange={setUrl}
          error={errors.fields.url}
          placeholder="/old-page?ref=nav"
          hint="A path with an optional query, or a full URL when rules name a host."
          required
        />
        <details className="text-sm">
          <summary className="cursor-pointer text-slate-700">Visitor: country, language, cookies, roles</summary>
          <div className="mt-3 grid gap-3 sm:grid-cols-2">
            <TextField label="Country" name="country" value={country} onChange={setCountry} error={errors.fields.country} placeholder="us" />
            <TextField label="Language" name="language" value={language} onChange={setLanguage} error={errors.fields.language} placeholder="de-AT,en;q=0.5" />
            <TextField label="Cookies" name="cookie" value={cookie} onChange={setCookie} error={errors.fields.cookie} placeholder="nf_lang=de; ab=b" />
            <TextField label="Roles" name="roles" value={roles} onChange={setRoles} error={errors.fields.roles} placeholder="admin, editor" hint="Comma-separated." />
          </div>
        </details>
        <div>
          <Button type="submit" disabled={busy}>
            {busy ? "Testing…" : "Test"}
          </Button>
        </div>
      </form>
      {result !== null && <RulesResult result={result} />}
    </Card>
  );
}

function RulesResult({ result }: { result: RulesTestResult }) {
  const a = result.answer;
  const target =
    a.location !== null
      ? ["Location", a.location]
      : a.proxy !== null
        ? ["Proxied to", a.proxy]
        : a.file !== null
          ? ["File", a.file]
          : null;
  return (
    <section className="mt-6 grid gap-4" aria-label="Rules test result" aria-live="polite">
      <div className="rounded-md border border-slate-200 bg-slate-50 p-3">
        <p className="text-sm font-medium text-slate-900" data-testid="rules-summary">
          {result.summary}
        </p>
        {target !== null && (
          <p className="mt-1 font-mono text-sm break-all text-slate-700">
            {target[0]}: {target[1]}
          </p>
        )}
        {a.headers.length > 0 && (
          <ul className="mt-2 font-mono text-xs text-slate-700" aria-label="Headers from rules">
            {a.headers.map((h, i) => (
              <li key={i} className="break-all">
                {h.name}: {h.value}
              </li>
            ))}
          </ul>
        )}
      </div>
      <div>
        <h3 className="text-sm font-semibold text-slate-800">Redirect rules, in order</h3>
        {result.redirects.length === 0 ? (
          <p className="mt-1 text-sm text-slate-600">This deploy has no redirect rules.</p>
        ) : (
          <ol className="mt-2 grid gap-2" aria-label="Redirect rules">
            {result.redirects.map((r, i) => {
              const outcome = kOutcomeLabels[r.outcome] ?? { label: r.outcome, className: "bg-slate-100 text-slate-700" };
              return (
                <li key={i} className="rounded-md border border-slate-200 p-2 text-sm">
                  <div className="flex flex-wrap items-center gap-2">
                    <span className={`rounded px-1.5 py-0.5 text-xs font-medium ${outcome.className}`}>{outcome.label}</span>
                    <span className="text-xs text-slate-500">{r.source}</span>
                    <code className="break-all text-slate-900">{r.rule}</code>
                  </div>
                  {r.reason !== "" && <p className="mt-1 text-slate-600">{r.reason}</p>}
                </li>
              );
            })}
          </ol>
        )}
      </div>
      <div>
        <h3 className="text-sm font-semibold text-slate-800">Header rules</h3>
        {result.headers.length === 0 ? (
          <p className="mt-1 text-sm text-slate-600">This deploy has no header rules.</p>
        ) : (
          <ul className="mt-2 grid gap-1 text-sm" aria-label="Header rules">
            {result.headers.map((h, i) => (
              <li key={i} className={h.applies ? "text-slate-900" : "text-slate-500"}>
                <span className="text-xs">{h.source}</span> <code>{h.for}</code> {h.applies ? "applies" : "does not match"}
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}

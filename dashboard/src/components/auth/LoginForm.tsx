"use client";

import { useEffect, useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import { safeNextPath } from "@/lib/routes";
import { takeLoginNotice } from "@/lib/session";
import { useFormSubmit } from "@/lib/use_form_submit";
import { Button, ErrorNotice, TextField, linkClass } from "@/components/ui/ui";

type Field = "email" | "password";
const kFields: Record<string, Field> = { email: "email", password: "password" };

export function LoginForm() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [notice, setNotice] = useState<string | null>(null);
  const { busy, errors, formRef, submit: send } = useFormSubmit(kFields, { leavesPage: true });

  useEffect(() => {
    setNotice(takeLoginNotice());
    const params = new URLSearchParams(window.location.search);
    const given = params.get("email");
    if (given) setEmail(given);
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await send(async () => {
      await api.login({ email, password });
      const next = new URLSearchParams(window.location.search).get("next");
      window.location.assign(safeNextPath(next));
    });
  };

  return (
    <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="space-y-4">
      {notice !== null && (
        <div role="status" className="rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">
          {notice}
        </div>
      )}
      {errors.form !== null && <ErrorNotice title="Could not log in">{errors.form}</ErrorNotice>}
      <TextField
        label="Email"
        name="email"
        type="email"
        inputMode="email"
        autoComplete="email"
        required
        value={email}
        onChange={setEmail}
        error={errors.fields.email}
      />
      <TextField
        label="Password"
        name="password"
        type="password"
        autoComplete="current-password"
        required
        value={password}
        onChange={setPassword}
        error={errors.fields.password}
      />
      <Button type="submit" disabled={busy} className="w-full">
        {busy ? "Logging in…" : "Log in"}
      </Button>
      <p className="text-sm text-slate-600">
        New here?{" "}
        <a href="/register/" className={linkClass}>
          Create an account
        </a>
      </p>
    </form>
  );
}

"use client";

import { useEffect, useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import { useFormSubmit } from "@/lib/use_form_submit";
import type { RegistrationMode } from "@/lib/api/types";
import { Button, ErrorNotice, InfoNotice, TextField, linkClass } from "@/components/ui/ui";

type Field = "email" | "password" | "full_name" | "invite";
const kFields: Record<string, Field> = {
  email: "email",
  password: "password",
  full_name: "full_name",
  invite: "invite",
};

export function RegisterForm() {
  const [fullName, setFullName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  // From an invite link (/register/?invite=...), or typed in.
  const [invite, setInvite] = useState("");
  const [mode, setMode] = useState<RegistrationMode | null>(null);
  const { busy, errors, formRef, submit: send } = useFormSubmit(kFields, { leavesPage: true });

  useEffect(() => {
    const given = new URLSearchParams(window.location.search).get("invite");
    if (given) setInvite(given);
    api.registrationMode().then(setMode, () => setMode(null));
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await send(async () => {
      await api.register({
        email,
        password,
        ...(fullName ? { full_name: fullName } : {}),
        ...(invite ? { invite } : {}),
      });
      try {
        await api.login({ email, password });
        window.location.assign("/");
      } catch {
        // The account exists; let the user log in by hand.
        window.location.assign(`/login/?email=${encodeURIComponent(email)}`);
      }
    });
  };

  return (
    <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="space-y-4">
      {errors.form !== null && (
        <ErrorNotice title="Could not create the account">{errors.form}</ErrorNotice>
      )}
      {mode === "closed" && (
        <InfoNotice title="Registration is closed">
          This server does not take new accounts; ask its administrator.
        </InfoNotice>
      )}
      <TextField
        label="Name"
        name="full_name"
        autoComplete="name"
        value={fullName}
        onChange={setFullName}
        error={errors.fields.full_name}
        hint="Optional"
      />
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
        autoComplete="new-password"
        required
        value={password}
        onChange={setPassword}
        error={errors.fields.password}
        hint="At least 8 characters"
      />
      {(mode === "invite" || invite !== "") && (
        <TextField
          label="Invite code"
          name="invite"
          autoComplete="off"
          required={mode === "invite"}
          value={invite}
          onChange={setInvite}
          error={errors.fields.invite}
          hint="From your invite link; the server's administrator makes them"
        />
      )}
      <Button type="submit" disabled={busy} className="w-full">
        {busy ? "Creating account…" : "Create account"}
      </Button>
      <p className="text-sm text-slate-600">
        Already have an account?{" "}
        <a href="/login/" className={linkClass}>
          Log in
        </a>
      </p>
    </form>
  );
}

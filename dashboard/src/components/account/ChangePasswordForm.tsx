"use client";

// Changing the password: the current one, then the new one (the registration rules). Every other
// session of the user is signed out; API tokens keep working (the card says so).

import { useState, type FormEvent } from "react";

import { api } from "@/lib/api/client";
import { useFormSubmit } from "@/lib/use_form_submit";
import { Button, Card, ErrorNotice, SuccessNotice, TextField } from "@/components/ui/ui";

type Field = "current" | "next";
// The API names the new password "new_password", or "password" in the rule codes it shares
// with registration (password_too_short).
const kFields: Record<string, Field> = { current_password: "current", new_password: "next", password: "next" };

export function ChangePasswordForm({ onChanged }: { onChanged?: () => void }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState(false);
  const { busy, errors, formRef, submit: send } = useFormSubmit(kFields);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setDone(false);
    const ok = await send(() => api.changePassword(current, next));
    if (ok) {
      setCurrent("");
      setNext("");
      setDone(true);
      onChanged?.();
    }
  };

  return (
    <Card
      title="Password"
      description="Changing it signs out every other browser. API tokens keep working: revoke them below if they may have leaked."
    >
      <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate className="max-w-md space-y-4">
        <TextField
          label="Current password"
          name="current_password"
          type="password"
          autoComplete="current-password"
          value={current}
          onChange={setCurrent}
          error={errors.fields.current}
          required
        />
        <TextField
          label="New password"
          name="new_password"
          type="password"
          autoComplete="new-password"
          value={next}
          onChange={setNext}
          error={errors.fields.next}
          hint="At least 8 characters."
          required
        />
        {errors.form !== null && <ErrorNotice title="Could not change the password">{errors.form}</ErrorNotice>}
        {done && <SuccessNotice>Password changed. Your other sessions were signed out.</SuccessNotice>}
        <Button type="submit" disabled={busy}>
          {busy ? "Changing…" : "Change password"}
        </Button>
      </form>
    </Card>
  );
}

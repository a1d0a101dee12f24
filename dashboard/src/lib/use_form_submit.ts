"use client";

// What a form or a button does while it sends something to the API, written once: busy while
// it runs, the error when it fails. useFormSubmit adds what a form needs on top: the error split
// into one next to a field or one for the whole form (form_errors.ts), and keyboard focus moved
// to the first invalid field after a failed submit (use_focus_first_error.ts).

import { useCallback, useMemo, useRef, useState, type RefObject } from "react";

import { formErrorsFrom, kNoErrors, type FieldErrors, type FormErrors } from "./form_errors";
import { useFocusFirstError } from "./use_focus_first_error";

export interface SubmitOptions {
  // On success the browser goes to another page (log in, a new site): stay busy until it has
  // left, so that nothing is sent twice.
  leavesPage?: boolean;
}

export interface AsyncAction {
  busy: boolean;
  error: unknown; // what the last run threw; null before, while running and after a success
  // Runs `action`: busy until it settles, its error kept. Resolves to whether it succeeded;
  // never rejects.
  run: (action: () => Promise<unknown>) => Promise<boolean>;
  clearError: () => void;
}

export function useAsyncAction({ leavesPage = false }: SubmitOptions = {}): AsyncAction {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const run = useCallback(
    async (action: () => Promise<unknown>) => {
      setBusy(true);
      setError(null);
      try {
        await action();
        if (!leavesPage) setBusy(false);
        return true;
      } catch (e) {
        setError(e);
        setBusy(false);
        return false;
      }
    },
    [leavesPage],
  );
  const clearError = useCallback(() => setError(null), []);

  return { busy, error, run, clearError };
}

export interface FormSubmit<F extends string> {
  busy: boolean;
  errors: FormErrors<F>;
  // For the <form>: focus goes to its first invalid field (or its alert) after a failure.
  formRef: RefObject<HTMLFormElement | null>;
  // Clears the errors and runs `action`; what it throws becomes `errors`. Resolves to whether it
  // succeeded; never rejects.
  submit: (action: () => Promise<unknown>) => Promise<boolean>;
  // A check before sending failed: shows these next to their fields (and focuses the first).
  setFieldErrors: (fields: FieldErrors<F>) => void;
}

// `fieldNames` maps the API's field names to the form's own, as formErrorsFrom takes them.
export function useFormSubmit<F extends string>(
  fieldNames: Record<string, F>,
  options: SubmitOptions = {},
): FormSubmit<F> {
  const { busy, error, run, clearError } = useAsyncAction(options);
  const [checked, setChecked] = useState<FormErrors<F>>(kNoErrors);
  const names = useRef(fieldNames);
  names.current = fieldNames;
  // One object per failure, not per render: focus moves when it changes.
  const errors = useMemo(
    () => (error === null ? checked : formErrorsFrom(error, names.current)),
    [error, checked],
  );
  const formRef = useFocusFirstError(errors);

  const submit = useCallback(
    (action: () => Promise<unknown>) => {
      setChecked(kNoErrors);
      return run(action);
    },
    [run],
  );
  const setFieldErrors = useCallback(
    (fields: FieldErrors<F>) => {
      clearError();
      setChecked({ fields, form: null });
    },
    [clearError],
  );

  return { busy, errors, formRef, submit, setFieldErrors };
}

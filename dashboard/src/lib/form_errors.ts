// Splits an API failure into an error next to one of a form's fields, or one for the whole form.

import { ApiError, describeError } from "./api/errors";

export type FieldErrors<F extends string> = Partial<Record<F, string>>;

export interface FormErrors<F extends string> {
  fields: FieldErrors<F>;
  form: string | null;
}

export const kNoErrors = { fields: {}, form: null } as const;

// `fieldNames` maps the API's field names (e.g. "build_settings.cmd") to the form's own.
export function formErrorsFrom<F extends string>(
  error: unknown,
  fieldNames: Record<string, F>,
): FormErrors<F> {
  if (error instanceof ApiError && error.field !== null) {
    const field = fieldNames[error.field];
    if (field !== undefined) {
      return { fields: { [field]: describeError(error) } as FieldErrors<F>, form: null };
    }
  }
  return { fields: {}, form: describeError(error) };
}

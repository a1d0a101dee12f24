// Failures of API calls: ApiError (the API's {"error":{"code","message"}} body, the form field it
// is about when there is one, Retry-After for 429), made from a response by errorFromResponse,
// and the words a page shows for any error (describeError).

export class ApiError extends Error {
  readonly status: number; // 0 when the server could not be reached
  readonly code: string;
  readonly field: string | null; // the request field the error is about, e.g. "password"
  readonly retryAfterSeconds: number | null;

  constructor(
    status: number,
    code: string,
    message: string,
    retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = fieldOfError(status, code, message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

// Codes that always concern one field, whatever the message says.
const kFieldOfCode: Record<string, string> = {
  invalid_email: "email",
  email_taken: "email",
  password_too_short: "password",
  password_too_long: "password",
  invalid_full_name: "full_name",
  invalid_name: "name",
  name_taken: "name",
};

// The field an error is about. 400 and 422 messages start with the field's name ("password is
// required", "build_settings.cmd must be a string"); a few codes name it by themselves.
export function fieldOfError(status: number, code: string, message: string): string | null {
  const byCode = kFieldOfCode[code];
  if (byCode !== undefined) return byCode;
  if (status !== 400 && status !== 422) return null;
  const first = /^([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\s+(is|must|should|has)\b/.exec(message);
  return first?.[1] ?? null;
}

// The message to show for an error the page has no better words for.
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (
      error.status === 429 &&
      error.retryAfterSeconds !== null &&
      !/try again/i.test(error.message)
    ) {
      return `${capitalize(error.message)} (try again in ${error.retryAfterSeconds} s)`;
    }
    return capitalize(error.message);
  }
  if (error instanceof Error) return error.message;
  return "Something went wrong";
}

function capitalize(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}

// The ApiError for a response that is not ok: the API's error body when there is one, else a
// generic message with the status (e.g. a proxy's error page).
export async function errorFromResponse(response: Response): Promise<ApiError> {
  const retryHeader = response.headers.get("Retry-After");
  const retryAfter = retryHeader !== null && /^\d+$/.test(retryHeader) ? Number(retryHeader) : null;
  let code = `http_${response.status}`;
  let message = `the server answered ${response.status}${response.statusText ? " " + response.statusText : ""}`;
  try {
    const parsed: unknown = JSON.parse(await response.text());
    if (isErrorBody(parsed)) {
      code = parsed.error.code;
      message = parsed.error.message;
    }
  } catch {
    // not JSON (e.g. a proxy's error page): keep the generic message
  }
  return new ApiError(response.status, code, message, retryAfter);
}

function isErrorBody(v: unknown): v is { error: { code: string; message: string } } {
  if (typeof v !== "object" || v === null || !("error" in v)) return false;
  const e = (v as { error: unknown }).error;
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as { code?: unknown }).code === "string" &&
    typeof (e as { message?: unknown }).message === "string"
  );
}

// Where the dashboard keeps the login token, and the one-shot message the login page shows
// (e.g. after a session expired). Both live in the browser's storage; every function is safe to
// call during the static export's prerender, where there is no window.

const kTokenKey = "replideploy.token";
const kNoticeKey = "replideploy.login-notice";

export const kSessionExpiredNotice = "Your session expired, please log in again";

function local(): Storage | null {
  try {
    return typeof window === "undefined" ? null : window.localStorage;
  } catch {
    return null; // storage disabled by the browser
  }
}

function session(): Storage | null {
  try {
    return typeof window === "undefined" ? null : window.sessionStorage;
  } catch {
    return null;
  }
}

export function loadToken(): string | null {
  return local()?.getItem(kTokenKey) ?? null;
}

export function saveToken(token: string): void {
  local()?.setItem(kTokenKey, token);
}

export function clearToken(): void {
  local()?.removeItem(kTokenKey);
}

// A message for the next visit of the login page, shown once.
export function setLoginNotice(message: string): void {
  session()?.setItem(kNoticeKey, message);
}

export function takeLoginNotice(): string | null {
  const s = session();
  const message = s?.getItem(kNoticeKey) ?? null;
  if (message !== null) s?.removeItem(kNoticeKey);
  return message;
}

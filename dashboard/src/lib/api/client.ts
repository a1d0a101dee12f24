// The one module that talks to the RepliDeploy API (docs/api.md). Pages and components call the
// typed methods of `api`; none of them calls fetch. The shapes it sends and gets are in types.ts.
//
// - Same origin: the server serves the dashboard on the host that answers the API.
// - The login token is read from session.ts and sent as `Authorization: Bearer <token>`.
// - Every failure is thrown as an ApiError (errors.ts): the API's {"error":{"code","message"}}
//   body, plus the form field it is about (when there is one) and Retry-After for 429.
// - A 401 on a request that carried a token means the session expired or was revoked: the
//   client forgets the token and calls `onSessionExpired` (the app sends the user to /login).

import { clearToken, kSessionExpiredNotice, loadToken, saveToken, setLoginNotice } from "../session";
import { ApiError, errorFromResponse } from "./errors";
import type {
  AnalyticsRange,
  ApiToken,
  AuditPage,
  Build,
  BuildSettingsUpdate,
  CreatedApiToken,
  Deploy,
  Domain,
  DeployLog,
  DetectedSettings,
  EnvContext,
  EnvVar,
  SitePasswordScope,
  FileDigests,
  GitHubAccount,
  GitHubRepo,
  Invite,
  LoginSession,
  LoginSessionInfo,
  NewApiToken,
  NewSiteRepo,
  RegistrationMode,
  RulesTestInput,
  RulesTestResult,
  Site,
  SiteAnalytics,
  SiteFunctions,
  UploadedFile,
  User,
} from "./types";

export interface ApiClientOptions {
  baseUrl?: string; // "" (default): same origin
  fetch?: typeof fetch;
  getToken?: () => string | null;
  // Called once per expired session, after the token was forgotten.
  onSessionExpired?: () => void;
}

interface RequestOptions {
  body?: unknown; // sent as JSON
  bytes?: Blob | ArrayBuffer | Uint8Array; // sent as raw bytes
  query?: Record<string, string | number | undefined>;
  auth?: boolean; // default true
  expireOn401?: boolean; // default true: a 401 ends the session (see the top of this file)
  signal?: AbortSignal;
}

// Encodes each segment of a deploy file path for the URL ("a b/c#d.html" -> "a%20b/c%23d.html").
export function encodeFilePath(path: string): string {
  return path
    .replace(/^\/+/, "")
    .split("/")
    .map((segment) => encodeURIComponent(segment))
    .join("/");
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly getToken: () => string | null;
  private readonly onSessionExpired: () => void;

  constructor(options: ApiClientOptions = {}) {
    this.baseUrl = options.baseUrl ?? "";
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.getToken = options.getToken ?? loadToken;
    this.onSessionExpired = options.onSessionExpired ?? (() => {});
  }

  // --- accounts ---

  // `invite` is needed when the server's registration is "invite" (not for its first account).
  register(input: { email: string; password: string; full_name?: string; invite?: string }): Promise<User> {
    return this.request<User>("POST", "/auth/register", { body: input, auth: false });
  }

  async registrationMode(): Promise<RegistrationMode> {
    const answer = await this.request<{ mode: RegistrationMode }>("GET", "/auth/registration", {
      auth: false,
    });
    return answer.mode;
  }

  // Administrator only (403 `admin_only` otherwise).
  createInvite(expiresInHours?: number): Promise<Invite> {
    return this.request<Invite>("POST", "/api/v1/invites", {
      body: expiresInHours === undefined ? {} : { expires_in_hours: expiresInHours },
    });
  }

  // Logs in and keeps the token for later calls.
  async login(input: { email: string; password: string }): Promise<LoginSession> {
    const session = await this.request<LoginSession>("POST", "/auth/login", {
      body: input,
      auth: false,
    });
    saveToken(session.token);
    return session;
  }

  // Ends the session on the server (POST /auth/logout), then forgets the token whatever the
  // server said: a session that already ended is just as logged out.
  async logout(): Promise<void> {
    try {
      if (this.getToken()) await this.request<void>("POST", "/auth/logout", { expireOn401: false });
    } catch {
      // unreachable server or an ended session: the token is forgotten below all the same
    } finally {
      clearToken();
    }
  }

  // 204. 422 `invalid_current_password` (field current_password), `password_too_short`; 429 with
  // Retry-After after repeated wrong current passwords. Ends every other session of the user.
  changePassword(currentPassword: string, newPassword: string): Promise<void> {
    return this.request<void>("PUT", "/api/v1/user/password", {
      body: { current_password: currentPassword, new_password: newPassword },
    });
  }

  // The live login sessions, newest first; `current` marks this browser's.
  listSessions(): Promise<LoginSessionInfo[]> {
    return this.request<LoginSessionInfo[]>("GET", "/api/v1/user/sessions");
  }

  endSession(id: string): Promise<void> {
    return this.request<void>("DELETE", `/api/v1/user/sessions/${seg(id)}`);
  }

  // The account's audit log, newest first; `before` is the previous page's `next_before`.
  auditEvents(options: { limit?: number; before?: string } = {}): Promise<AuditPage> {
    return this.request<AuditPage>("GET", "/api/v1/audit", {
      query: { limit: options.limit, before: options.before },
    });
  }

  currentUser(): Promise<User> {
    return this.request<User>("GET", "/api/v1/user");
  }

  listTokens(): Promise<ApiToken[]> {
    return this.request<ApiToken[]>("GET", "/api/v1/tokens");
  }

  createToken(input: NewApiToken): Promise<CreatedApiToken> {
    return this.request<CreatedApiToken>("POST", "/api/v1/tokens", { body: input });
  }

  revokeToken(id: string): Promise<void> {
    return this.request<void>("DELETE", `/api/v1/tokens/${seg(id)}`);
  }

  // --- sites ---

  listSites(): Promise<Site[]> {
    return this.request<Site[]>("GET", "/api/v1/sites");
  }

  // `site` is the site's id or name.
  getSite(site: string): Promise<Site> {
    return this.request<Site>("GET", `/api/v1/sites/${seg(site)}`);
  }

  // Without `repo` the site deploys by upload or by pushes to its git remote. With a GitHub repo
  // the server adds the webhook and queues the first build; a git URL is built at once and
  // polled for new commits.
  createSite(input: {
    name?: string;
    build_settings?: BuildSettingsUpdate;
    repo?: NewSiteRepo;
  }): Promise<Site> {
    return this.request<Site>("POST", "/api/v1/sites", { body: input });
  }

  updateBuildSettings(site: string, settings: BuildSettingsUpdate): Promise<Site> {
    return this.request<Site>("PATCH", `/api/v1/sites/${seg(site)}`, {
      body: { build_settings: settings },
    });
  }

  // Skew protection's window in seconds (0 turns it off); 422 "invalid_skew_protection" out of
  // 60..604800.
  setSkewProtection(site: string, maxAgeSeconds: number): Promise<Site> {
    return this.request<Site>("PATCH", `/api/v1/sites/${seg(site)}`, {
      body: { skew_protection_max_age: maxAgeSeconds },
    });
  }

  // "Trigger deploy": builds the head of the production branch. 422 `no_source` when the site
  // has nothing to build (no repository, nothing pushed).
  triggerBuild(site: string): Promise<Build> {
    return this.request<Build>("POST", `/api/v1/sites/${seg(site)}/builds`);
  }

  // --- environment variables ---

  listEnv(site: string): Promise<EnvVar[]> {
    return this.request<EnvVar[]>("GET", `/api/v1/sites/${seg(site)}/env`);
  }

  // 422 with the field "key" for a key that is not letters, digits and '_'.
  setEnv(
    site: string,
    key: string,
    value: string,
    context: EnvContext = "all",
  ): Promise<{ key: string; context: string }> {
    return this.request<{ key: string; context: string }>("PUT", `/api/v1/sites/${seg(site)}/env/${seg(key)}`, {
      body: { value, context },
    });
  }

  deleteEnv(site: string, key: string): Promise<void> {
    return this.request<void>("DELETE", `/api/v1/sites/${seg(site)}/env/${seg(key)}`);
  }

  // --- site-wide password ---

  // 422 "invalid_password" for an empty or over-long password.
  setSitePassword(site: string, password: string, scope: SitePasswordScope): Promise<Site> {
    return this.request<Site>("PUT", `/api/v1/sites/${seg(site)}/password`, { body: { password, scope } });
  }

  removeSitePassword(site: string): Promise<void> {
    return this.request<void>("DELETE", `/api/v1/sites/${seg(site)}/password`);
  }

  // --- Custom domains ---

  listDomains(site: string): Promise<Domain[]> {
    return this.request<Domain[]>("GET", `/api/v1/sites/${seg(site)}/domains`);
  }

  addDomain(site: string, name: string): Promise<Domain> {
    return this.request<Domain>("POST", `/api/v1/sites/${seg(site)}/domains`, { body: { name } });
  }

  removeDomain(site: string, name: string): Promise<void> {
    return this.request<void>("DELETE", `/api/v1/sites/${seg(site)}/domains/${seg(name)}`);
  }

  makeDomainPrimary(site: string, name: string): Promise<Domain> {
    return this.request<Domain>("PATCH", `/api/v1/sites/${seg(site)}/domains/${seg(name)}`, {
      body: { primary: true },
    });
  }

  checkDomain(site: string, name: string): Promise<Domain> {
    return this.request<Domain>("POST", `/api/v1/sites/${seg(site)}/domains/${seg(name)}/check`);
  }

  // --- GitHub ---

  githubAccount(): Promise<GitHubAccount> {
    return this.request<GitHubAccount>("GET", "/api/v1/github/account");
  }

  disconnectGitHub(): Promise<void> {
    return this.request<void>("DELETE", "/api/v1/github/account");
  }

  // The GitHub page that asks the user to allow access; GitHub then comes back (through the
  // server) to `returnTo` with ?github=connected or ?github_error=<message>.
  async githubAuthorizeUrl(returnTo: string): Promise<string> {
    const answer = await this.request<{ authorize_url: string }>("GET", "/api/v1/github/connect", {
      query: { return_to: returnTo },
    });
    return answer.authorize_url;
  }

  // Every repository the connected account can use, most recently pushed first. 403
  // `github_reconnect` when GitHub no longer accepts the token, 409 `github_not_connected`.
  listGitHubRepos(): Promise<GitHubRepo[]> {
    return this.request<GitHubRepo[]>("GET", "/api/v1/github/repos");
  }

  // `repoPath` is "owner/name"; `ref` the branch to look at.
  detectGitHubRepo(repoPath: string, ref: string): Promise<DetectedSettings> {
    const [owner = "", name = ""] = repoPath.split("/", 2);
    return this.request<DetectedSettings>(
      "GET",
      `/api/v1/github/repos/${seg(owner)}/${seg(name)}/detect`,
      { query: { ref: ref === "" ? undefined : ref } },
    );
  }

  // --- deploys ---

  // Traffic, top paths and 404s and builds over the last hour, day or week (docs/api.md).
  getSiteAnalytics(site: string, range: AnalyticsRange): Promise<SiteAnalytics> {
    return this.request<SiteAnalytics>("GET", `/api/v1/sites/${seg(site)}/analytics`, {
      query: { range },
    });
  }

  // The published deploy's functions with their last hour's calls (docs/api.md, "Functions").
  getSiteFunctions(site: string): Promise<SiteFunctions> {
    return this.request<SiteFunctions>("GET", `/api/v1/sites/${seg(site)}/functions`);
  }

  // Newest first.
  listDeploys(site: string, perPage?: number): Promise<Deploy[]> {
    return this.request<Deploy[]>("GET", `/api/v1/sites/${seg(site)}/deploys`, {
      query: { per_page: perPage },
    });
  }

  getDeploy(deployId: string, signal?: AbortSignal): Promise<Deploy> {
    return this.request<Deploy>("GET", `/api/v1/deploys/${seg(deployId)}`, { signal });
  }

  createDeploy(site: string, input: { draft: boolean; title?: string }): Promise<Deploy> {
    return this.request<Deploy>("POST", `/api/v1/sites/${seg(site)}/deploys`, {
      body: { ...input, deploy_source: "dashboard" },
    });
  }

  // Declares the deploy's files; the answer's `required` lists the SHA-1s to upload.
  setDeployFiles(site: string, deployId: string, files: FileDigests): Promise<Deploy> {
    return this.request<Deploy>("PUT", `/api/v1/sites/${seg(site)}/deploys/${seg(deployId)}`, {
      body: { files },
    });
  }

  uploadDeployFile(
    deployId: string,
    path: string,
    bytes: Blob | ArrayBuffer | Uint8Array,
    signal?: AbortSignal,
  ): Promise<UploadedFile> {
    return this.request<UploadedFile>(
      "PUT",
      `/api/v1/deploys/${seg(deployId)}/files/${encodeFilePath(path)}`,
      { bytes, signal },
    );
  }

  cancelDeploy(deployId: string): Promise<Deploy> {
    return this.request<Deploy>("POST", `/api/v1/deploys/${seg(deployId)}/cancel`);
  }

  // Publishes a ready deploy (a rollback when it is older than the live one).
  publishDeploy(site: string, deployId: string): Promise<Deploy> {
    return this.request<Deploy>(
      "POST",
      `/api/v1/sites/${seg(site)}/deploys/${seg(deployId)}/restore`,
    );
  }

  // Publishes the deploy and stops auto-publishing of new production deploys.
  lockDeploy(deployId: string): Promise<Deploy> {
    return this.request<Deploy>("POST", `/api/v1/deploys/${seg(deployId)}/lock`);
  }

  unlockDeploy(deployId: string): Promise<Deploy> {
    return this.request<Deploy>("POST", `/api/v1/deploys/${seg(deployId)}/unlock`);
  }

  // The build log so far (the whole log once the deploy is done). Live: deploy_log_stream.ts.
  // What the edge answers a request for the site (its published deploy, or input.deploy_id).
  testRules(site: string, input: RulesTestInput): Promise<RulesTestResult> {
    return this.request<RulesTestResult>("POST", `/api/v1/sites/${seg(site)}/rules/test`, { body: input });
  }

  getDeployLog(deployId: string): Promise<DeployLog> {
    return this.request<DeployLog>("GET", `/api/v1/deploys/${seg(deployId)}/log`);
  }

  // --- transport ---

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    const token = options.auth === false ? null : this.getToken();
    if (token) headers["Authorization"] = `Bearer ${token}`;

    let body: BodyInit | undefined;
    if (options.bytes !== undefined) {
      headers["Content-Type"] = "application/octet-stream";
      body = options.bytes instanceof Uint8Array ? new Blob([options.bytes as BlobPart]) : options.bytes;
    } else if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.body);
    }

    let url = this.baseUrl + path;
    const query = Object.entries(options.query ?? {}).filter(([, v]) => v !== undefined);
    if (query.length > 0) {
      url += "?" + new URLSearchParams(query.map(([k, v]) => [k, String(v)])).toString();
    }

    let response: Response;
    try {
      response = await this.fetchImpl(url, { method, headers, body, signal: options.signal });
    } catch (e) {
      if (e instanceof DOMException && e.name === "AbortError") throw e;
      throw new ApiError(
        0,
        "network",
        "could not reach the RepliDeploy server; check your connection and try again",
      );
    }

    if (response.ok) {
      if (response.status === 204) return undefined as T;
      const text = await response.text();
      return (text.length === 0 ? undefined : JSON.parse(text)) as T;
    }

    const error = await errorFromResponse(response);
    if (response.status === 401 && token && options.expireOn401 !== false) {
      clearToken();
      this.onSessionExpired();
    }
    throw error;
  }
}

// Sends the browser to the login page with the "session expired" message, coming back to the
// current page after login.
export function redirectToLogin(
  navigate: (url: string) => void = (url) => window.location.assign(url),
): void {
  if (typeof window === "undefined") return;
  setLoginNotice(kSessionExpiredNotice);
  if (window.location.pathname.startsWith("/login")) return;
  const here = window.location.pathname + window.location.search;
  navigate(`/login/?next=${encodeURIComponent(here)}`);
}

let redirecting = false;

// The session ended (a 401, or the log stream closing with 4401): forget the token and go to
// the login page, once.
export function expireSession(): void {
  clearToken();
  if (redirecting) return;
  redirecting = true;
  redirectToLogin();
}

// The client every page uses.
export const api = new ApiClient({ onSessionExpired: expireSession });

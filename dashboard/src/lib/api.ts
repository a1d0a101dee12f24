// The one module that talks to the RepliDeploy API (docs/api.md). Pages and components call the
// typed methods of `api`; none of them calls fetch.
//
// - Same origin: the server serves the dashboard on the host that answers the API.
// - The login token is read from session.ts and sent as `Authorization: Bearer <token>`.
// - Every failure is thrown as an ApiError: the API's {"error":{"code","message"}} body, plus
//   the form field it is about (when there is one) and Retry-After for 429.
// - A 401 on a request that carried a token means the session expired or was revoked: the
//   client forgets the token and calls `onSessionExpired` (the app sends the user to /login).

import { clearToken, kSessionExpiredNotice, loadToken, saveToken, setLoginNotice } from "./session";

// --- Shapes of the API's answers ----------------------------------------------------------------

export interface User {
  id: string;
  uid: string;
  email: string;
  full_name: string;
  account_id: string;
  account_slug: string;
  created_at: string;
  updated_at: string;
}

export interface LoginSession {
  token: string;
  token_type: string;
  expires_at: string;
  user: User;
}

export interface ApiToken {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export interface CreatedApiToken extends ApiToken {
  token: string; // the secret, shown only once
}

// Where a site's builds come from: GitHub, any git URL, or "" (uploads and/or pushes to the
// platform's own git remote).
export type RepoProvider = "github" | "git" | "";

export interface BuildSettings {
  cmd: string;
  dir: string;
  base: string;
  repo_url: string; // the clone URL ("" without a repository)
  repo_branch: string; // the production branch; "" means "main"
  functions_dir: string;
  provider: RepoProvider | string;
  repo_path: string; // "owner/name" for GitHub, else ""
  branch_deploys: boolean;
  deploy_previews: boolean;
}

// What PATCH /api/v1/sites/{id} changes of the build settings.
export type BuildSettingsUpdate = Partial<
  Pick<
    BuildSettings,
    "cmd" | "dir" | "base" | "functions_dir" | "repo_branch" | "branch_deploys" | "deploy_previews"
  >
>;

// The repository of a new site.
export interface NewSiteRepo {
  provider: "github" | "git";
  repo_path?: string; // GitHub: "owner/name"
  repo_url?: string; // any git URL
  repo_branch: string;
  cmd: string;
  dir: string;
  base: string;
  functions_dir: string;
}

export interface Site {
  id: string;
  site_id: string;
  name: string;
  url: string;
  ssl_url: string;
  admin_url: string;
  state: string;
  account_id: string;
  account_slug: string;
  custom_domain: string | null;
  created_at: string;
  updated_at: string;
  build_settings: BuildSettings;
  published_deploy: { id: string } | null;
  git_remote_url: string; // the platform's git remote for this site
}

// Deploy states; builds from git will add queued and building.
export type DeployState =
  | "new"
  | "uploading"
  | "queued"
  | "building"
  | "processing"
  | "ready"
  | "error"
  | "canceled";

// States of a deploy still on its way (the others: ready, error, canceled).
const kInProgressStates: readonly string[] = ["new", "uploading", "queued", "building", "processing"];

export function isDeployStateInProgress(state: string): boolean {
  return kInProgressStates.includes(state);
}

export type DeployContext = "production" | "branch-deploy" | "deploy-preview" | "draft";

export interface Deploy {
  id: string;
  site_id: string;
  build_id: string | null;
  state: DeployState | string;
  name: string; // the site's name
  url: string;
  ssl_url: string;
  admin_url: string;
  deploy_url: string;
  deploy_ssl_url: string;
  user_id: string;
  error_message: string | null;
  required: string[];
  required_functions: string[];
  commit_ref: string | null; // the commit's SHA
  commit_url: string | null; // the commit on GitHub
  review_id: number | null; // the pull request's number
  review_url: string | null; // the pull request on GitHub
  branch: string | null;
  context: DeployContext | string;
  title: string | null; // the commit message for builds from git
  draft: boolean;
  deploy_source: string;
  file_count: number;
  locked: boolean; // the site's auto-publish lock
  published: boolean; // the site's live deploy right now
  created_at: string;
  updated_at: string;
  published_at: string | null;
  ready_at: string | null;
  deploy_time: number | null; // seconds from start to ready
  links: { permalink: string; alias?: string }; // alias: the branch or preview URL
}

// A build started by "Trigger deploy".
export interface Build {
  id: string;
  deploy_id: string;
  sha: string | null;
  done: boolean;
  error: string | null;
  created_at: string;
}

export type LogStream = "stdout" | "stderr" | "info";

// One line of a build log. `n` counts from 0 and orders the lines; `line` may hold ANSI colours.
export interface LogLine {
  n: number;
  ts: string;
  stream: LogStream | string;
  line: string;
}

export interface DeployLog {
  deploy_id: string;
  state: DeployState | string;
  lines: LogLine[];
}

export type EnvContext = "all" | "production" | "deploy-preview" | "branch-deploy";

export interface EnvVar {
  key: string;
  values: { context: EnvContext | string; value: string }[];
}

export type GitHubAccount =
  | { connected: true; login: string; avatar_url: string; html_url: string }
  | { connected: false; configured: boolean };

export interface GitHubRepo {
  id: number | string;
  full_name: string; // "owner/name"
  name: string;
  owner: string;
  description: string | null;
  private: boolean;
  default_branch: string;
  html_url: string;
  clone_url: string;
  pushed_at: string | null;
}

// Build settings detected from a repository's files.
export interface DetectedSettings {
  framework: string | null;
  package_manager: string | null;
  cmd: string;
  dir: string;
  base: string;
}

export interface UploadedFile {
  id: string;
  path: string;
  sha: string;
  mime_type: string;
  size: number;
}

// path (no leading slash) -> SHA-1 hex
export type FileDigests = Record<string, string>;

// --- Errors -------------------------------------------------------------------------------------

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

// --- The client ---------------------------------------------------------------------------------

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

  register(input: { email: string; password: string; full_name?: string }): Promise<User> {
    return this.request<User>("POST", "/auth/register", { body: input, auth: false });
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

  logout(): void {
    clearToken();
  }

  currentUser(): Promise<User> {
    return this.request<User>("GET", "/api/v1/user");
  }

  listTokens(): Promise<ApiToken[]> {
    return this.request<ApiToken[]>("GET", "/api/v1/tokens");
  }

  createToken(name: string): Promise<CreatedApiToken> {
    return this.request<CreatedApiToken>("POST", "/api/v1/tokens", { body: { name } });
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
    if (response.status === 401 && token) {
      clearToken();
      this.onSessionExpired();
    }
    throw error;
  }
}

async function errorFromResponse(response: Response): Promise<ApiError> {
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

// The shapes of the RepliDeploy API's requests and answers (docs/api.md), as the dashboard
// reads them. Plain data: no I/O here; the client that fetches them is client.ts.

export interface User {
  id: string;
  uid: string;
  email: string;
  full_name: string;
  account_id: string;
  account_slug: string;
  created_at: string;
  updated_at: string;
  admin: boolean; // the server's administrator (the first account): may create invites
}

// Who may register on this server (`--registration`).
export type RegistrationMode = "open" | "invite" | "closed";

// A single-use invite code, shown once.
export interface Invite {
  code: string;
  expires_at: string;
  register_url: string;
}

export interface LoginSession {
  token: string;
  token_type: string;
  expires_at: string;
  user: User;
}

// What an API token may do (docs/api.md, "Scopes"); every scope includes read.
export type TokenScope = "read" | "deploy" | "sites" | "account";

export interface ApiToken {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  scopes: TokenScope[];
  expires_at: string | null; // null: never
}

export interface NewApiToken {
  name: string;
  scopes?: TokenScope[]; // absent: every scope (from a login session)
  expires_in_days?: number; // absent: never expires
}

// One login of the user (GET /api/v1/user/sessions).
export interface LoginSessionInfo {
  id: string;
  current: boolean; // the session of this browser
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  client_address: string;
  user_agent: string;
}

export interface AuditEvent {
  id: string;
  action: string; // "login.succeeded", "token.created", "deploy.rolled_back", ...
  created_at: string;
  actor: { user_id: string | null; credential: "session" | "api_token" | null; credential_id: string | null };
  client_address: string;
  user_agent: string;
  target: string;
  details: Record<string, unknown>;
}

export interface AuditPage {
  events: AuditEvent[]; // newest first
  next_before: string | null; // the `before` of the next (older) page; null on the last
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
  custom_domain: string | null; // the primary custom domain
  domain_aliases: string[]; // other custom domains that serve the site
  created_at: string;
  updated_at: string;
  build_settings: BuildSettings;
  published_deploy: { id: string } | null;
  git_remote_url: string; // the platform's git remote for this site
  has_password: boolean; // site-wide password protection is on
  password_scope: SitePasswordScope | "none";
  // Skew protection: a visitor's assets come from the deploy of the page they loaded, for
  // skew_protection_max_age seconds after a publish (0 when off).
  skew_protection: boolean;
  skew_protection_max_age: number;
}

// Which deploys a site-wide password guards: every one, or all but production.
export type SitePasswordScope = "all" | "non_production";

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

// One message of a deploy's summary, as Netlify's API has it; ours also name the file and line
// (a rule line skipped as Netlify skips it).
export interface DeployMessage {
  type: "warning" | "info" | string;
  title: string;
  description: string; // "_redirects:1: missing destination"
  details: string; // the line as written, or ""
  file?: string;
  line?: number;
}

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
  summary?: { status: string; messages: DeployMessage[] }; // absent from older servers
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

// POST /api/v1/sites/{site}/rules/test: what the edge answers a request, and why.
export interface RulesTestInput {
  url: string; // a path ("/old?page=2") or an http(s) URL
  deploy_id?: string;
  method?: string;
  headers?: Record<string, string>;
  country?: string;
  language?: string;
  cookie?: string;
  roles?: string[];
}

export type RuleOutcome = "matched" | "shadowed" | "not_matched" | "role_refused" | "not_reached";

export interface RulesTestResult {
  deploy_id: string;
  request: { method: string; host: string; target: string; path: string | null };
  redirects: { source: string; rule: string; outcome: RuleOutcome | string; reason: string }[];
  headers: { source: string; for: string; applies: boolean; values: { name: string; value: string }[] }[];
  static_file: string | null;
  answer: {
    kind: string; // "redirect" | "rewrite" | "proxy" | "file" | "status" | "not_found" | "denied" | "bad_request"
    status: number;
    location: string | null;
    rewrite: string | null;
    proxy: string | null;
    file: string | null;
    headers: { name: string; value: string }[];
  };
  summary: string;
}

// --- Custom domains (docs/domains.md) ---

export type DomainState = "pending_dns" | "dns_ok" | "issuing" | "active" | "failed";

export interface DnsRecord {
  name: string;
  type: string; // "CNAME", "A", "AAAA", "TXT"
  value: string;
}

export interface DnsRecordCheck {
  name: string;
  type: string;
  expected: string[];
  found: string[];
  ok: boolean;
  note: string;
}

export interface DnsReport {
  ok: boolean;
  reason: string;
  checked_at: number; // unix millis
  records: DnsRecordCheck[];
}

export interface Domain {
  id: string;
  name: string;
  site_id: string;
  primary: boolean;
  pair: string | null; // the other member of an apex/www pair
  redirect_to: string | null; // answers 301 to this name
  state: DomainState;
  state_reason: string;
  check_attempts: number;
  next_check_at: string | null;
  verified_at: string | null;
  dns_records: DnsRecord[]; // what to create at the DNS provider
  dns_report: DnsReport | null; // the last check
  ownership_record: DnsRecord; // TXT proving control (to take a name from another account)
  created_at: string;
  updated_at: string;
}

// GET /api/v1/sites/{site}/analytics?range=hour|day|week (docs/api.md, "Analytics").
export type AnalyticsRange = "hour" | "day" | "week";

export interface StatusClasses {
  "1xx": number;
  "2xx": number;
  "3xx": number;
  "4xx": number;
  "5xx": number;
}

export interface TrafficTotals {
  requests: number;
  bytes: number; // response bodies as sent
  status: StatusClasses;
}

export interface TrafficPoint extends TrafficTotals {
  start: number; // Unix seconds: the period's start
}

export interface PathRequests {
  path: string;
  requests: number;
}

export interface BuildOutcome {
  deploy_id: string;
  outcome: "succeeded" | "failed";
  finished_at: string;
  duration_ms: number;
}

export interface SiteAnalytics {
  range: AnalyticsRange;
  bucket_seconds: number;
  from: number; // Unix seconds
  to: number;
  totals: TrafficTotals;
  points: TrafficPoint[]; // one per bucket, oldest first
  top_paths: PathRequests[];
  other_paths_requests: number;
  top_404s: PathRequests[];
  other_404s_requests: number;
  builds: BuildOutcome[]; // oldest first
}

// GET /api/v1/sites/{site}/functions (docs/api.md, "Functions"): the published deploy's
// functions (or ?deploy_id=), with their calls over the last hour.
export interface SiteFunction {
  name: string;
  routes: string[]; // config.path patterns, or /.netlify/functions/<name> and /api/<name>
  runtime: string;
  sha256: string;
  size: number; // the zip's bytes
  invocations: number;
  errors: number; // 5xx answers, the platform's 502/504 included
  p50_ms: number; // a duration bucket's upper bound; 0 without calls
  p99_ms: number;
}

export interface SiteFunctions {
  site_id: string;
  deploy_id: string | null; // null: nothing published yet
  window_seconds: number;
  functions: SiteFunction[];
}

// A function log line: a build log line plus the call it belongs to.
export interface FunctionLogLine extends LogLine {
  request_id: string;
}

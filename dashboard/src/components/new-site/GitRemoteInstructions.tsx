// How to deploy by pushing to the site's own git remote on this server: the two commands to
// copy, and what to give git as the password.

import { kAccountPath } from "@/lib/routes";
import { CopyableText, linkClass } from "@/components/ui/ui";

export function GitRemoteInstructions({ remoteUrl, branch }: { remoteUrl: string; branch: string }) {
  const production = branch === "" ? "main" : branch;
  return (
    <div className="space-y-3 text-sm text-slate-700" data-testid="git-remote-instructions">
      <p>In your project&apos;s git repository, add the site&apos;s remote once, then push:</p>
      <CopyableText text={`git remote add replideploy ${remoteUrl}`} label="Copy the git remote add command" />
      <CopyableText text={`git push replideploy ${production}`} label="Copy the git push command" />
      <p>
        When git asks you to log in, any user name works; the password is an{" "}
        <a href={kAccountPath} className={linkClass}>
          API token from your Account page
        </a>
        . Pushes to <code className="font-mono">{production}</code> are built and published;
        the build follows <code className="font-mono">netlify.toml</code> (
        <code className="font-mono">[build] command</code> and <code className="font-mono">publish</code>) or the
        site&apos;s build settings.
      </p>
    </div>
  );
}

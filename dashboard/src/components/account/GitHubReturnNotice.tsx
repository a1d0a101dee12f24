// What happened on GitHub's authorization page, once back.

import type { GitHubReturn } from "@/lib/github_return";
import { ErrorNotice, SuccessNotice } from "@/components/ui/ui";

export function GitHubReturnNotice({ value }: { value: GitHubReturn | null }) {
  if (value === null) return null;
  if (value.connected) return <SuccessNotice>GitHub is connected.</SuccessNotice>;
  return <ErrorNotice title="GitHub did not connect">{value.error}</ErrorNotice>;
}

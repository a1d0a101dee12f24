// The warnings of a deploy's summary: rules that were skipped (as Netlify skips them) while
// the rest of the deploy went live. Nothing when there are none.

import type { Deploy } from "@/lib/api/types";
import { Card } from "@/components/ui/ui";

export function DeployWarnings({ deploy }: { deploy: Deploy }) {
  const messages = deploy.summary?.messages ?? [];
  if (messages.length === 0) return null;
  return (
    <Card
      title={`${messages.length} ${messages.length === 1 ? "warning" : "warnings"}`}
      description="These rules were skipped, as Netlify skips them; the rest of the deploy is live."
    >
      <ul className="grid gap-2" aria-label="Deploy warnings">
        {messages.map((m, i) => (
          <li key={i} className="rounded-md bg-amber-50 p-3 text-sm break-words text-amber-900">
            <p className="font-mono">{m.description}</p>
            {m.details !== "" && <p className="mt-1 font-mono text-amber-800">{m.details}</p>}
          </li>
        ))}
      </ul>
    </Card>
  );
}

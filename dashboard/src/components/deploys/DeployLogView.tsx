"use client";

// A build log: line numbers, ANSI colours, search (matches highlighted, optionally only the
// matching lines), download, and auto-scroll that follows new lines until the user scrolls up
// and picks up again when they scroll back to the end.

import { memo, useId, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from "react";

import { parseAnsi, stripAnsi } from "@/lib/ansi";
import type { LogLine } from "@/lib/api/types";
import { markMatches, matchRanges } from "@/lib/log_text";
import { AnsiText } from "@/components/ui/AnsiText";
import { Button } from "@/components/ui/ui";

// How close to the end (in pixels) counts as "at the end".
const kBottomSlack = 24;

const plainCache = new WeakMap<LogLine, string>();
function plainText(line: LogLine): string {
  let text = plainCache.get(line);
  if (text === undefined) {
    text = stripAnsi(line.line);
    plainCache.set(line, text);
  }
  return text;
}

export function DeployLogView({
  lines,
  live,
  onDownload,
  downloading = false,
  empty,
  label = "Build log",
}: {
  lines: readonly LogLine[];
  live: boolean; // the build is still writing
  onDownload: () => void;
  downloading?: boolean;
  empty: ReactNode; // what to say when there are no lines
  label?: string; // the log region's accessible name
}) {
  const [query, setQuery] = useState("");
  const [onlyMatching, setOnlyMatching] = useState(false);
  const [stick, setStick] = useState(true);
  const scroller = useRef<HTMLDivElement>(null);
  const searchId = useId();
  const filterId = useId();

  const q = query.trim();
  const { visible, matchCount, matchLines } = useMemo(() => {
    let count = 0;
    let withMatch = 0;
    const shown: LogLine[] = [];
    for (const l of lines) {
      const n = q === "" ? 0 : matchRanges(plainText(l), q).length;
      count += n;
      if (n > 0) withMatch++;
      if (!onlyMatching || q === "" || n > 0) shown.push(l);
    }
    return { visible: shown, matchCount: count, matchLines: withMatch };
  }, [lines, q, onlyMatching]);

  // Follow the end while sticking to it.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (stick && el !== null) el.scrollTop = el.scrollHeight;
  }, [visible, stick]);

  const onScroll = () => {
    const el = scroller.current;
    if (el === null) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight <= kBottomSlack;
    if (atEnd !== stick) setStick(atEnd);
  };

  return (
    <div className="space-y-3">
      <div className="flex flex-col gap-3 sm:flex-row sm:items-end">
        <div className="min-w-0 flex-1">
          <label htmlFor={searchId} className="block text-sm font-medium text-slate-800">
            Search the log
          </label>
          <input
            id={searchId}
            type="search"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            placeholder="error, warning, a file name…"
            className="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-base shadow-sm focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-teal-600 sm:text-sm"
          />
        </div>
        <div className="flex items-center gap-2 sm:pb-2">
          <input
            id={filterId}
            type="checkbox"
            checked={onlyMatching}
            onChange={(e) => setOnlyMatching(e.target.checked)}
            className="h-5 w-5 accent-teal-700"
          />
          <label htmlFor={filterId} className="text-sm text-slate-800">
            Only matching lines
          </label>
        </div>
        <Button kind="secondary" onClick={onDownload} disabled={downloading || lines.length === 0}>
          {downloading ? "Preparing…" : "Download log"}
        </Button>
      </div>

      <p
        className="text-sm text-slate-600"
        aria-live={q === "" ? "off" : "polite"}
        data-testid="log-search-summary"
      >
        {q === ""
          ? `${lines.length} ${lines.length === 1 ? "line" : "lines"}`
          : matchCount === 0
            ? `No match for “${q}”`
            : `${matchCount} ${matchCount === 1 ? "match" : "matches"} in ${matchLines} ${matchLines === 1 ? "line" : "lines"}`}
      </p>

      <div className="relative">
        <div
          ref={scroller}
          onScroll={onScroll}
          role="region"
          aria-label={label}
          tabIndex={0}
          data-testid="log-scroller"
          className="h-[60vh] min-h-64 overflow-auto rounded-lg bg-slate-900 py-3 font-mono text-xs leading-5 text-slate-200 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-teal-600 sm:text-[13px]"
        >
          {lines.length === 0 ? (
            <p className="px-4 text-slate-400">{empty}</p>
          ) : (
            <ol className="min-w-0">
              {visible.map((l) => (
                <LogLineRow key={l.n} line={l} query={q} />
              ))}
            </ol>
          )}
        </div>
        {!stick && lines.length > 0 && (
          <Button
            kind="primary"
            className="absolute right-4 bottom-4 shadow-lg"
            onClick={() => setStick(true)}
          >
            {live ? "Follow the log" : "Jump to the end"}
          </Button>
        )}
      </div>
    </div>
  );
}

const LogLineRow = memo(function LogLineRow({ line, query }: { line: LogLine; query: string }) {
  const pieces = useMemo(() => {
    const spans = parseAnsi(line.line);
    return markMatches(spans, matchRanges(spans.map((s) => s.text).join(""), query));
  }, [line.line, query]);
  return (
    <li
      id={`L${line.n + 1}`}
      data-stream={line.stream}
      className={`flex min-h-5 hover:bg-white/5 ${line.stream === "info" ? "text-sky-300" : ""}`}
    >
      <span
        aria-hidden="true"
        className="w-10 shrink-0 pr-2 text-right text-slate-500 select-none sm:w-14 sm:pr-3"
        data-testid="log-line-number"
      >
        {line.n + 1}
      </span>
      <span className="min-w-0 flex-1 pr-4 break-all whitespace-pre-wrap">
        <AnsiText pieces={pieces} />
      </span>
    </li>
  );
});

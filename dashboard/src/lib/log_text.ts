// A build log as plain text and search within it: what the log view highlights and filters, and
// what "Download" saves.

import { stripAnsi, type AnsiSpan, type AnsiStyle } from "./ansi";
import type { LogLine } from "./api/types";

// One line per log line: "<time> <stream> <text>", colours and other escapes removed, e.g.
// "2026-11-25T10:00:00.123Z stdout step 1". Ends with a newline when there are lines.
export function logAsText(lines: readonly LogLine[]): string {
  return lines
    .map((l) => `${l.ts} ${String(l.stream).padEnd(6)} ${stripAnsi(l.line)}\n`)
    .join("");
}

// "blog-deploy-<id>.log"
export function logFileName(site: string, deployId: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, "_");
  return `${safe(site)}-deploy-${safe(deployId)}.log`;
}

// Where `query` occurs in `text`, ignoring case: [start, end) pairs, not overlapping.
export function matchRanges(text: string, query: string): [number, number][] {
  if (query === "") return [];
  let hay = text.toLowerCase();
  let needle = query.toLowerCase();
  if (hay.length !== text.length || needle.length !== query.length) {
    // lower-casing changed the length (rare letters): match exactly instead
    hay = text;
    needle = query;
  }
  const ranges: [number, number][] = [];
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + needle.length)) {
    ranges.push([at, at + needle.length]);
  }
  return ranges;
}

export interface MarkedSpan {
  text: string;
  style: AnsiStyle;
  match: boolean;
}

// Cuts styled spans at the edges of `ranges` (offsets into the spans' joined text) so each piece
// is wholly inside or outside a match.
export function markMatches(spans: readonly AnsiSpan[], ranges: readonly [number, number][]): MarkedSpan[] {
  const out: MarkedSpan[] = [];
  let offset = 0;
  let r = 0;
  for (const span of spans) {
    const end = offset + span.text.length;
    let at = offset;
    while (at < end) {
      while (r < ranges.length && ranges[r]![1] <= at) r++;
      const range = ranges[r];
      let pieceEnd: number;
      let match: boolean;
      if (range === undefined || range[0] >= end) {
        pieceEnd = end;
        match = false;
      } else if (range[0] > at) {
        pieceEnd = range[0];
        match = false;
      } else {
        pieceEnd = Math.min(range[1], end);
        match = true;
      }
      out.push({ text: span.text.slice(at - offset, pieceEnd - offset), style: span.style, match });
      at = pieceEnd;
    }
    offset = end;
  }
  return out;
}

import { describe, expect, it } from "vitest";

import { parseAnsi } from "./ansi";
import type { LogLine } from "./api/types";
import { logAsText, logFileName, markMatches, matchRanges } from "./log_text";

const E = "\u001b";

describe("logAsText", () => {
  it("writes time, stream and text without colours, one line each", () => {
    const lines: LogLine[] = [
      { n: 0, ts: "2026-11-25T10:00:00.123Z", stream: "info", line: "Cloning the repository" },
      { n: 1, ts: "2026-11-25T10:00:01.000Z", stream: "stdout", line: `${E}[32mstep 1${E}[39m` },
      { n: 2, ts: "2026-11-25T10:00:02.000Z", stream: "stderr", line: "warning: x" },
    ];
    expect(logAsText(lines)).toBe(
      "2026-11-25T10:00:00.123Z info   Cloning the repository\n" +
        "2026-11-25T10:00:01.000Z stdout step 1\n" +
        "2026-11-25T10:00:02.000Z stderr warning: x\n",
    );
    expect(logAsText([])).toBe("");
  });

  it("names the file after site and deploy", () => {
    expect(logFileName("blog", "6745ab")).toBe("blog-deploy-6745ab.log");
    expect(logFileName("a/b", "..")).toBe("a_b-deploy-...log");
  });
});

describe("search", () => {
  it("finds every match ignoring case", () => {
    expect(matchRanges("Error: error ERROR", "error")).toEqual([
      [0, 5],
      [7, 12],
      [13, 18],
    ]);
    expect(matchRanges("aaaa", "aa")).toEqual([
      [0, 2],
      [2, 4],
    ]);
    expect(matchRanges("abc", "")).toEqual([]);
  });

  it("cuts coloured spans at the edges of a match", () => {
    const spans = parseAnsi(`${E}[32mbuilt in ${E}[1m3${E}[22ms${E}[39m total`);
    const marked = markMatches(spans, matchRanges("built in 3s total", "in 3s t"));
    expect(marked.map((m) => [m.text, m.match, m.style.bold])).toEqual([
      ["built ", false, false],
      ["in ", true, false],
      ["3", true, true],
      ["s", true, false],
      [" t", true, false],
      ["otal", false, false],
    ]);
  });
});

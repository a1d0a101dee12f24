import { describe, expect, it } from "vitest";

import { ansiColorCss, kPlainStyle, parseAnsi, stripAnsi, type AnsiSpan } from "./ansi";

const E = "\u001b";

// The spans as [text, what differs from plain] for short expectations.
function brief(spans: AnsiSpan[]): [string, Record<string, unknown>][] {
  return spans.map((s) => {
    const diff: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s.style)) {
      if (JSON.stringify(v) !== JSON.stringify(kPlainStyle[k as keyof typeof kPlainStyle])) diff[k] = v;
    }
    return [s.text, diff];
  });
}

const green = { kind: "palette", index: 2 };

describe("parseAnsi", () => {
  it("leaves plain text alone", () => {
    expect(brief(parseAnsi("step 1\tdone"))).toEqual([["step 1\tdone", {}]]);
    expect(parseAnsi("")).toEqual([]);
  });

  it("reads a foreground colour and its reset (chalk's green)", () => {
    expect(brief(parseAnsi(`${E}[32mok${E}[39m done`))).toEqual([
      ["ok", { fg: green }],
      [" done", {}],
    ]);
  });

  it("nests bold and colour as Vite prints its banner", () => {
    const line = `  ${E}[32m${E}[1mVITE${E}[22m v5.4.2${E}[39m  ${E}[2mready in ${E}[0m${E}[1m312${E}[22m${E}[2m${E}[0m ms${E}[22m`;
    expect(brief(parseAnsi(line))).toEqual([
      ["  ", {}],
      ["VITE", { fg: green, bold: true }],
      [" v5.4.2", { fg: green }],
      ["  ", {}],
      ["ready in ", { dim: true }],
      ["312", { bold: true }],
      [" ms", {}],
    ]);
  });

  it("knows the bright colours, backgrounds and attributes", () => {
    expect(brief(parseAnsi(`${E}[91mA${E}[103mB${E}[49;3mC${E}[23;4mD${E}[24;7mE${E}[27;9mF${E}[0m`))).toEqual([
      ["A", { fg: { kind: "palette", index: 9 } }],
      ["B", { fg: { kind: "palette", index: 9 }, bg: { kind: "palette", index: 11 } }],
      ["C", { fg: { kind: "palette", index: 9 }, italic: true }],
      ["D", { fg: { kind: "palette", index: 9 }, underline: true }],
      ["E", { fg: { kind: "palette", index: 9 }, inverse: true }],
      ["F", { fg: { kind: "palette", index: 9 }, strike: true }],
    ]);
  });

  it("resets with 0 and with an empty parameter list", () => {
    expect(brief(parseAnsi(`${E}[1;31merr${E}[mok${E}[41mx${E}[0my`))).toEqual([
      ["err", { bold: true, fg: { kind: "palette", index: 1 } }],
      ["ok", {}],
      ["x", { bg: { kind: "palette", index: 1 } }],
      ["y", {}],
    ]);
  });

  it("22 ends both bold and dim", () => {
    expect(brief(parseAnsi(`${E}[1;2mx${E}[22my`))).toEqual([
      ["x", { bold: true, dim: true }],
      ["y", {}],
    ]);
  });

  it("reads 256 and 24-bit colours, with ';' and with ':'", () => {
    expect(brief(parseAnsi(`${E}[38;5;208ma${E}[48;2;10;20;30mb${E}[38:2::1:2:3mc${E}[38:5:196md`))).toEqual([
      ["a", { fg: { kind: "palette", index: 208 } }],
      ["b", { fg: { kind: "palette", index: 208 }, bg: { kind: "rgb", r: 10, g: 20, b: 30 } }],
      ["c", { fg: { kind: "rgb", r: 1, g: 2, b: 3 }, bg: { kind: "rgb", r: 10, g: 20, b: 30 } }],
      ["d", { fg: { kind: "palette", index: 196 }, bg: { kind: "rgb", r: 10, g: 20, b: 30 } }],
    ]);
    // out of range: ignored, the parameters after it still apply
    expect(brief(parseAnsi(`${E}[38;5;300;1mz`))).toEqual([["z", { bold: true }]]);
  });

  it("drops cursor moves, erase, OSC titles and links, charset switches and controls", () => {
    expect(stripAnsi(`${E}[2K${E}[1G${E}[?25lnpm ${E}[0Kinstall${E}[?25h`)).toBe("npm install");
    expect(stripAnsi(`${E}]0;my title\u0007after`)).toBe("after");
    expect(stripAnsi(`see ${E}]8;;https://example.com${E}\\the docs${E}]8;;${E}\\ now`)).toBe("see the docs now");
    expect(stripAnsi(`${E}(B${E}7x${E}8\u0007\u0008y\u007f`)).toBe("xy");
  });

  it("does not read other CSI sequences as colours (erase line 2K is not dim, 1G not bold)", () => {
    expect(brief(parseAnsi(`${E}[2K${E}[1G${E}[31;1Hx`))).toEqual([["x", {}]]);
  });

  it("a carriage return starts the line over, as a progress bar redraws", () => {
    expect(stripAnsi("[##   ] 40%\r[#####] 100%")).toBe("[#####] 100%");
    expect(stripAnsi("done\r")).toBe("done");
    // the style in effect carries over the return
    expect(brief(parseAnsi(`${E}[33m10%\r20%${E}[0m`))).toEqual([["20%", { fg: { kind: "palette", index: 3 } }]]);
  });

  it("drops a sequence cut off at the end of the line", () => {
    expect(stripAnsi(`text${E}[3`)).toBe("text");
    expect(stripAnsi(`text${E}`)).toBe("text");
  });

  it("keeps markup as text", () => {
    expect(stripAnsi(`${E}[31m<img src=x onerror=alert(1)>${E}[0m`)).toBe("<img src=x onerror=alert(1)>");
  });
});

describe("ansiColorCss", () => {
  it("maps the 16 colours, the 256-colour cube, the grey ramp and rgb", () => {
    expect(ansiColorCss({ kind: "palette", index: 1 })).toMatch(/^#[0-9a-f]{6}$/);
    expect(ansiColorCss({ kind: "palette", index: 9 })).not.toBe(ansiColorCss({ kind: "palette", index: 1 }));
    expect(ansiColorCss({ kind: "palette", index: 16 })).toBe("rgb(0, 0, 0)");
    expect(ansiColorCss({ kind: "palette", index: 208 })).toBe("rgb(255, 135, 0)");
    expect(ansiColorCss({ kind: "palette", index: 231 })).toBe("rgb(255, 255, 255)");
    expect(ansiColorCss({ kind: "palette", index: 232 })).toBe("rgb(8, 8, 8)");
    expect(ansiColorCss({ kind: "palette", index: 255 })).toBe("rgb(238, 238, 238)");
    expect(ansiColorCss({ kind: "rgb", r: 1, g: 2, b: 3 })).toBe("rgb(1, 2, 3)");
  });
});

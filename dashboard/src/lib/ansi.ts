// ANSI escape sequences in build output -> text spans with a style, for rendering as React
// elements (never as HTML). SGR ("ESC [ ... m") sets colours and attributes: the 16 colours
// and their bright forms, 256-colour and 24-bit colours, bold, dim, italic, underline, inverse,
// strikethrough and resets. Every other escape sequence (cursor moves, erase, OSC titles and
// links, charset switches) and control character is dropped. A carriage return starts the line
// over, as a terminal shows a progress bar that redraws itself.

export type AnsiColor =
  | { kind: "palette"; index: number } // 0-7 normal, 8-15 bright, 16-255 the 256-colour cube
  | { kind: "rgb"; r: number; g: number; b: number };

export interface AnsiStyle {
  fg: AnsiColor | null;
  bg: AnsiColor | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
  inverse: boolean;
  strike: boolean;
}

export interface AnsiSpan {
  text: string;
  style: AnsiStyle;
}

export const kPlainStyle: AnsiStyle = Object.freeze({
  fg: null,
  bg: null,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
  inverse: false,
  strike: false,
});

const ESC = "\u001b";

// Splits `line` into styled spans; neighbouring spans of the same style are merged and empty
// ones left out. `start` is the style in effect where the line begins.
export function parseAnsi(line: string, start: AnsiStyle = kPlainStyle): AnsiSpan[] {
  let spans: AnsiSpan[] = [];
  let style = start;
  let text = "";

  const flush = () => {
    if (text === "") return;
    const last = spans[spans.length - 1];
    if (last !== undefined && sameStyle(last.style, style)) last.text += text;
    else spans.push({ text, style });
    text = "";
  };

  let i = 0;
  while (i < line.length) {
    const c = line.charCodeAt(i);
    if (c === 0x1b || c === 0x9b) {
      // ESC, or the 8-bit CSI
      const csi = c === 0x9b ? i + 1 : line[i + 1] === "[" ? i + 2 : -1;
      if (csi >= 0) {
        const end = csiEnd(line, csi);
        if (end < 0) break; // cut off: drop the rest
        if (line[end] === "m") {
          flush();
          style = applySgr(style, line.slice(csi, end));
        }
        i = end + 1;
        continue;
      }
      i = skipOtherEscape(line, i);
      continue;
    }
    if (c === 0x0d) {
      // "\r": what follows overwrites the line (a trailing "\r" changes nothing)
      if (i + 1 < line.length && line[i + 1] !== "\n") {
        text = "";
        spans = [];
      }
      i++;
      continue;
    }
    if (c === 0x09 || c >= 0x20) {
      if (c >= 0x7f && c <= 0x9f) {
        i++; // DEL and the C1 controls
        continue;
      }
      text += line[i];
    }
    i++;
  }
  flush();
  return spans;
}

// The text without any escape sequence, e.g. for search and for the downloaded log.
export function stripAnsi(line: string): string {
  return parseAnsi(line)
    .map((s) => s.text)
    .join("");
}

function sameStyle(a: AnsiStyle, b: AnsiStyle): boolean {
  return (
    sameColor(a.fg, b.fg) &&
    sameColor(a.bg, b.bg) &&
    a.bold === b.bold &&
    a.dim === b.dim &&
    a.italic === b.italic &&
    a.underline === b.underline &&
    a.inverse === b.inverse &&
    a.strike === b.strike
  );
}

function sameColor(a: AnsiColor | null, b: AnsiColor | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.kind === "palette" && b.kind === "palette") return a.index === b.index;
  if (a.kind === "rgb" && b.kind === "rgb") return a.r === b.r && a.g === b.g && a.b === b.b;
  return false;
}

// The index of a CSI sequence's final byte (0x40-0x7e), or -1 when the line ends first.
function csiEnd(line: string, from: number): number {
  for (let j = from; j < line.length; j++) {
    const c = line.charCodeAt(j);
    if (c >= 0x40 && c <= 0x7e) return j;
    if (c < 0x20 || c > 0x3f) return j; // not a CSI byte: end here (the byte is dropped too)
  }
  return -1;
}

// Skips an escape sequence other than CSI starting at `i` (the ESC); returns the next index.
function skipOtherEscape(line: string, i: number): number {
  const next = line[i + 1];
  if (next === undefined) return i + 1;
  if (next === "]" || next === "P" || next === "X" || next === "^" || next === "_") {
    // OSC, DCS, SOS, PM, APC: up to BEL or ST (ESC \); unterminated ones run to the line's end
    for (let j = i + 2; j < line.length; j++) {
      if (line[j] === "\u0007") return j + 1;
      if (line[j] === ESC && line[j + 1] === "\\") return j + 2;
    }
    return line.length;
  }
  // ESC, intermediate bytes (0x20-0x2f), one final byte: e.g. "ESC ( B", "ESC 7", "ESC c"
  let j = i + 1;
  while (j < line.length && line.charCodeAt(j) >= 0x20 && line.charCodeAt(j) <= 0x2f) j++;
  return Math.min(j + 1, line.length);
}

// Applies the parameters of one SGR sequence ("1;31", "38;5;208", "38:2::255:0:0", "").
export function applySgr(style: AnsiStyle, params: string): AnsiStyle {
  if (!/^[0-9;:]*$/.test(params)) return style; // private sequences ("?25" etc.): ignore
  const s: AnsiStyle = { ...style };
  const codes = params === "" ? ["0"] : params.split(";");
  for (let k = 0; k < codes.length; k++) {
    const raw = codes[k]!;
    if (raw.includes(":")) {
      // "38:5:n" / "38:2:[colourspace:]r:g:b" in one parameter
      const sub = raw.split(":").map((x) => (x === "" ? 0 : Number(x)));
      const head = sub[0];
      if (head === 38 || head === 48 || head === 58) {
        const color =
          sub[1] === 5
            ? paletteColor(sub[2])
            : sub[1] === 2
              ? rgbColor(sub.length >= 6 ? sub.slice(3, 6) : sub.slice(2, 5))
              : null;
        if (head === 38 && color !== null) s.fg = color;
        if (head === 48 && color !== null) s.bg = color;
      } else if (head === 4) {
        s.underline = sub[1] !== 0;
      }
      continue;
    }
    const code = raw === "" ? 0 : Number(raw);
    if (code === 38 || code === 48 || code === 58) {
      // "38;5;n" / "38;2;r;g;b" over several parameters
      const mode = Number(codes[k + 1]);
      let color: AnsiColor | null = null;
      if (mode === 5) {
        color = paletteColor(Number(codes[k + 2]));
        k += 2;
      } else if (mode === 2) {
        color = rgbColor(codes.slice(k + 2, k + 5).map(Number));
        k += 4;
      } else {
        k += 1;
      }
      if (code === 38 && color !== null) s.fg = color;
      if (code === 48 && color !== null) s.bg = color;
      continue;
    }
    applyCode(s, code);
  }
  return s;
}

function applyCode(s: AnsiStyle, code: number): void {
  if (code === 0) Object.assign(s, kPlainStyle);
  else if (code === 1) s.bold = true;
  else if (code === 2) s.dim = true;
  else if (code === 3) s.italic = true;
  else if (code === 4 || code === 21) s.underline = true;
  else if (code === 7) s.inverse = true;
  else if (code === 9) s.strike = true;
  else if (code === 22) s.bold = s.dim = false;
  else if (code === 23) s.italic = false;
  else if (code === 24) s.underline = false;
  else if (code === 27) s.inverse = false;
  else if (code === 29) s.strike = false;
  else if (code >= 30 && code <= 37) s.fg = { kind: "palette", index: code - 30 };
  else if (code === 39) s.fg = null;
  else if (code >= 40 && code <= 47) s.bg = { kind: "palette", index: code - 40 };
  else if (code === 49) s.bg = null;
  else if (code >= 90 && code <= 97) s.fg = { kind: "palette", index: code - 90 + 8 };
  else if (code >= 100 && code <= 107) s.bg = { kind: "palette", index: code - 100 + 8 };
  // anything else (blink, fonts, overline, ...) is ignored
}

function paletteColor(n: number | undefined): AnsiColor | null {
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 255) return null;
  return { kind: "palette", index: n };
}

function rgbColor(parts: number[]): AnsiColor | null {
  if (parts.length !== 3 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
  return { kind: "rgb", r: parts[0]!, g: parts[1]!, b: parts[2]! };
}

// The 16 colours as they read on the log's dark background (close to VS Code's terminal).
const kPalette16 = [
  "#3f4451", // black: still visible on the dark background
  "#f87171", // red
  "#4ade80", // green
  "#facc15", // yellow
  "#60a5fa", // blue
  "#e879f9", // magenta
  "#22d3ee", // cyan
  "#d4d4d8", // white
  "#71717a", // bright black (grey)
  "#fca5a5", // bright red
  "#86efac", // bright green
  "#fde047", // bright yellow
  "#93c5fd", // bright blue
  "#f0abfc", // bright magenta
  "#67e8f9", // bright cyan
  "#fafafa", // bright white
];

// A CSS colour for `color` ("#rrggbb" or "rgb(r, g, b)").
export function ansiColorCss(color: AnsiColor): string {
  if (color.kind === "rgb") return `rgb(${color.r}, ${color.g}, ${color.b})`;
  const n = color.index;
  if (n < 16) return kPalette16[n]!;
  if (n < 232) {
    // the 6x6x6 cube
    const steps = [0, 95, 135, 175, 215, 255];
    const c = n - 16;
    const r = steps[Math.floor(c / 36)]!;
    const g = steps[Math.floor(c / 6) % 6]!;
    const b = steps[c % 6]!;
    return `rgb(${r}, ${g}, ${b})`;
  }
  const grey = 8 + (n - 232) * 10; // the grey ramp
  return `rgb(${grey}, ${grey}, ${grey})`;
}

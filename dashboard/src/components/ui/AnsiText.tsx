// Text with ANSI colours, as React elements: colours become inline styles, attributes classes.
// The text is only ever a text node (never HTML). Search matches are wrapped in <mark>.

import type { CSSProperties } from "react";
import { ansiColorCss, type AnsiStyle } from "@/lib/ansi";
import type { MarkedSpan } from "@/lib/log_text";

const kDefaultFg = "#e2e8f0"; // the log's text colour (slate-200)
const kDefaultBg = "#0f172a"; // the log's background (slate-900)

function pieceStyle(style: AnsiStyle): { className: string; css: CSSProperties | undefined } {
  let fg = style.fg !== null ? ansiColorCss(style.fg) : null;
  let bg = style.bg !== null ? ansiColorCss(style.bg) : null;
  if (style.inverse) {
    [fg, bg] = [bg ?? kDefaultBg, fg ?? kDefaultFg];
  }
  const css: CSSProperties = {};
  if (fg !== null) css.color = fg;
  if (bg !== null) css.backgroundColor = bg;
  const classes = [
    style.bold ? "font-bold" : "",
    style.dim ? "opacity-60" : "",
    style.italic ? "italic" : "",
    style.underline && style.strike ? "underline line-through" : style.underline ? "underline" : style.strike ? "line-through" : "",
  ].filter(Boolean);
  return { className: classes.join(" "), css: fg !== null || bg !== null ? css : undefined };
}

export function AnsiText({ pieces }: { pieces: readonly MarkedSpan[] }) {
  return (
    <>
      {pieces.map((piece, i) => {
        const { className, css } = pieceStyle(piece.style);
        if (piece.match) {
          // readable on yellow: no colours, no dimming
          return (
            <mark key={i} className={`rounded-sm bg-yellow-300 text-slate-950 ${className.replace("opacity-60", "")}`}>
              {piece.text}
            </mark>
          );
        }
        if (className === "" && css === undefined) return <span key={i}>{piece.text}</span>;
        return (
          <span key={i} className={className || undefined} style={css}>
            {piece.text}
          </span>
        );
      })}
    </>
  );
}

/**
 * Text widths for laying out the figures. Without a canvas, vega estimates every
 * character at 0.8 em, about half again as wide as the page draws them, so titles,
 * legends and panels take far more room than they need. This measures with the
 * advance widths of Helvetica (the page's font; Arial and Liberation Sans, what
 * Chromium substitutes, share them), as vega allows (`textMetrics.width`).
 */
import * as vega from 'vega';

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
}

/** vega-scenegraph's measurer, re-exported by vega (its typings omit it). */
const { textMetrics } = vega as unknown as { textMetrics: { width: (item: TextItem, text: unknown) => number } };

/** Helvetica's advance widths, thousandths of an em, for ASCII 32 … 126. */
// prettier-ignore
const WIDTHS = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space … /
  556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 … ?
  1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ … O
  667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P … _
  333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` … o
  556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p … ~
];
/** Other characters (Greek, subscripts, symbols): about a digit's width. */
const OTHER = 580;
/** Bold runs wider. */
const BOLD = 1.06;

/** The width in pixels of `text` at `fontSize`. */
export function textWidth(text: string, fontSize: number, bold = false): number {
  let w = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)! - 32;
    w += c >= 0 && c < WIDTHS.length ? WIDTHS[c] : OTHER;
  }
  return (w / 1000) * fontSize * (bold ? BOLD : 1);
}

/** Makes vega lay text out with these widths (for every view in this process). */
export function useTextWidths(): void {
  textMetrics.width = (item: TextItem, text: unknown): number => {
    const s = text == null ? '' : String(text).trim();
    const size = item.fontSize != null ? +item.fontSize || 0 : 11;
    const weight = item.fontWeight;
    return textWidth(s, size, weight === 'bold' || (typeof weight === 'number' && weight >= 600));
  };
}

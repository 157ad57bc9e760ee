/**
 * Rasterises the chart SVG with resvg (Rust, prebuilt per platform as npm packages),
 * using the system's fonts for the labels.
 */
import { Resvg } from "@resvg/resvg-js";

export function svgToPng(svg: string): Buffer {
  const renderer = new Resvg(svg, {
    background: "#ffffff",
    fitTo: { mode: "zoom", value: 2 },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  });
  return renderer.render().asPng();
}

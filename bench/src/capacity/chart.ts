/**
 * The Pareto chart as plain SVG: output tokens/s per GPU (y) against tokens/s per
 * user (x), one colour per GPU kind, every swept plan as a faint dot and the
 * frontier as a line through labelled points.
 */
import type { SweepPoint } from "./sweep.js";

const WIDTH = 960;
const HEIGHT = 600;
const MARGIN = { left: 80, right: 30, top: 62, bottom: 64 };
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"];
const LABEL_WIDTH = 120;
const LABEL_HEIGHT = 13;
const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

function escapeXml(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** Round tick step (1, 2 or 5 × 10^k) giving about `count` ticks up to `max`. */
export function niceTicks(max: number, count = 6): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const base = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * base).find((s) => s >= raw) ?? 10 * base;
  const ticks: number[] = [];
  for (let t = 0; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if ((ticks.at(-1) ?? 0) < max) ticks.push(Number(((ticks.at(-1) ?? 0) + step).toPrecision(12)));
  return ticks;
}

function label(n: number): string {
  return n >= 10_000 ? `${n / 1000}k` : String(n);
}

export function paretoSvg(points: readonly SweepPoint[], title: string): string {
  const xTicks = niceTicks(Math.max(1, ...points.map((p) => p.tokensPerSPerUser)));
  const yTicks = niceTicks(Math.max(1, ...points.map((p) => p.tokensPerSPerGpu)));
  const xMax = xTicks.at(-1) ?? 1;
  const yMax = yTicks.at(-1) ?? 1;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (v: number) => MARGIN.left + (v / xMax) * plotW;
  const y = (v: number) => MARGIN.top + plotH - (v / yMax) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="${FONT}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="17" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (const t of xTicks) {
    out.push(
      `<line x1="${x(t)}" y1="${MARGIN.top}" x2="${x(t)}" y2="${MARGIN.top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${x(t)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle" font-size="12">${label(t)}</text>`,
    );
  }
  for (const t of yTicks) {
    out.push(
      `<line x1="${MARGIN.left}" y1="${y(t)}" x2="${MARGIN.left + plotW}" y2="${y(t)}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 8}" y="${y(t) + 4}" text-anchor="end" font-size="12">${label(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 18}" text-anchor="middle" font-size="14">output tokens/s per user (1 / TPOT)</text>`,
    `<text x="20" y="${MARGIN.top + plotH / 2}" text-anchor="middle" font-size="14" transform="rotate(-90 20 ${MARGIN.top + plotH / 2})">output tokens/s per GPU</text>`,
    `<text x="${WIDTH / 2}" y="48" text-anchor="middle" font-size="11" fill="#555">labels: tp, pp, ×replicas, c = requests in flight; faint dots: plans off the frontier</text>`,
  );
  const labels: Array<{ x: number; y: number }> = [];
  const kinds = [...new Set(points.map((p) => `${p.gpus}× ${p.gpu}`))];
  kinds.forEach((kind, i) => {
    const colour = COLOURS[i % COLOURS.length] as string;
    const mine = points.filter((p) => `${p.gpus}× ${p.gpu}` === kind);
    for (const p of mine.filter((q) => !q.pareto)) {
      out.push(
        `<circle cx="${x(p.tokensPerSPerUser).toFixed(1)}" cy="${y(p.tokensPerSPerGpu).toFixed(1)}" r="3" fill="${colour}" fill-opacity="0.25"/>`,
      );
    }
    const frontier = mine.filter((p) => p.pareto).sort((a, b) => a.tokensPerSPerUser - b.tokensPerSPerUser);
    const path = frontier.map(
      (p) => `${x(p.tokensPerSPerUser).toFixed(1)},${y(p.tokensPerSPerGpu).toFixed(1)}`,
    );
    if (path.length > 1)
      out.push(`<polyline points="${path.join(" ")}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const p of frontier) {
      const cx = x(p.tokensPerSPerUser);
      const cy = y(p.tokensPerSPerGpu);
      out.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="4.5" fill="${colour}"/>`);
      // Label a point only where the label does not overprint one already drawn.
      if (labels.some((l) => Math.abs(l.x - cx) < LABEL_WIDTH && Math.abs(l.y - cy) < LABEL_HEIGHT)) continue;
      labels.push({ x: cx, y: cy });
      out.push(
        `<text x="${(cx + 6).toFixed(1)}" y="${(cy - 6).toFixed(1)}" font-size="10" fill="#333">tp${p.tp} pp${p.pp}${p.ep > 1 ? ` ep${p.ep}` : ""} ×${p.replicas} c${p.concurrency}</text>`,
      );
    }
    const ly = MARGIN.top + 18 + i * 20;
    out.push(
      `<rect x="${MARGIN.left + plotW - 170}" y="${ly - 10}" width="14" height="14" fill="${colour}"/>`,
      `<text x="${MARGIN.left + plotW - 150}" y="${ly + 2}" font-size="13">${escapeXml(kind)}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

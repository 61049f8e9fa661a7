// The support chart: one line per answer, its quadratic-vote support in each round (SVG).
const SVG = 'http://www.w3.org/2000/svg';
const COLOURS = ['#0b63c5', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0a7d8c', '#6e7781'];

function el(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** `support[answer][round]`, rounds from 1; `halt` marks the round the transcript stopped at. */
export function supportChart(support: Map<string, number[]>, rounds: number, halt: number): SVGSVGElement {
  const width = 520;
  const height = 240;
  const pad = { left: 48, right: 90, top: 16, bottom: 36 };
  // Scores are signed: a seat voted down ends below zero.
  const all = [...support.values()].flat();
  const max = Math.max(1, ...all);
  const min = Math.min(0, ...all);
  const x = (round: number) => pad.left + (rounds <= 1 ? (width - pad.left - pad.right) / 2 : ((round - 1) * (width - pad.left - pad.right)) / (rounds - 1));
  const y = (value: number) => height - pad.bottom - ((value - min) / (max - min)) * (height - pad.top - pad.bottom);
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'data-testid': 'support-chart' }) as SVGSVGElement;
  const summary = [...support.entries()].map(([answer, values]) => `answer ${answer}: ${values.join(', ')}`).join('; ');
  svg.append(el('title', {}, `Support per answer across ${rounds} round(s): ${summary}`));
  svg.append(el('line', { x1: pad.left, y1: y(0), x2: width - pad.right, y2: y(0), stroke: 'currentColor', 'stroke-opacity': 0.4 }));
  svg.append(el('line', { x1: pad.left, y1: pad.top, x2: pad.left, y2: y(min), stroke: 'currentColor', 'stroke-opacity': 0.4 }));
  for (const tick of new Set([max, 0, min])) {
    svg.append(el('text', { x: pad.left - 6, y: y(tick) + 4, 'text-anchor': 'end' }, String(tick)));
  }
  for (let r = 1; r <= rounds; r++) {
    svg.append(el('text', { x: x(r), y: height - pad.bottom + 16, 'text-anchor': 'middle' }, `round ${r}`));
  }
  if (halt >= 1) {
    svg.append(el('line', { x1: x(halt), y1: pad.top, x2: x(halt), y2: y(min), stroke: 'currentColor', 'stroke-dasharray': '4 3' }));
    svg.append(el('text', { x: x(halt), y: pad.top - 4, 'text-anchor': 'middle' }, 'halted'));
  }
  // End labels, pushed apart so that lines ending together stay readable.
  const labels: { answer: string; at: number }[] = [...support].map(([answer, values]) => ({ answer, at: y(values[values.length - 1] ?? 0) })).sort((a, b) => a.at - b.at);
  labels.forEach((label, k) => {
    const previous = labels[k - 1];
    if (previous && label.at - previous.at < 13) label.at = previous.at + 13;
  });
  const labelAt = new Map(labels.map((l) => [l.answer, l.at]));
  let i = 0;
  for (const [answer, values] of support) {
    const colour = COLOURS[i++ % COLOURS.length] ?? '#000';
    const points = values.map((v, r) => `${x(r + 1)},${y(v)}`).join(' ');
    svg.append(el('polyline', { points, fill: 'none', stroke: colour, 'stroke-width': 2.5, 'data-answer': answer }));
    values.forEach((v, r) => svg.append(el('circle', { cx: x(r + 1), cy: y(v), r: 3.5, fill: colour })));
    svg.append(el('text', { x: x(values.length) + 8, y: (labelAt.get(answer) ?? 0) + 4, fill: colour }, `answer ${answer}`));
  }
  return svg;
}

/** The marginal price of the epoch: `points` as `[converted, price]`, `now` the current converted
 * amount (marked), axes labelled with `xLabel` and `yLabel`. */
export function priceCurve(points: [number, number][], now: number, xLabel: string, yLabel: string): SVGSVGElement {
  const width = 520;
  const height = 240;
  const pad = { left: 64, right: 40, top: 16, bottom: 40 };
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const xMax = Math.max(...xs, 1e-9);
  const yMax = Math.max(...ys, 1e-9);
  const x = (v: number) => pad.left + (v / xMax) * (width - pad.left - pad.right);
  const y = (v: number) => height - pad.bottom - (v / yMax) * (height - pad.top - pad.bottom);
  const fmt = (v: number) => (Math.abs(v) >= 1e7 || (v !== 0 && Math.abs(v) < 0.01) ? v.toExponential(2) : Math.abs(v) >= 1000 ? String(Math.round(v)) : String(Number(v.toFixed(3))));
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'data-testid': 'price-curve' }) as SVGSVGElement;
  svg.append(el('title', {}, `${yLabel} against ${xLabel}: from ${fmt(ys[0] ?? 0)} at 0 to ${fmt(ys[ys.length - 1] ?? 0)} at ${fmt(xMax)}; now at ${fmt(now)}`));
  svg.append(el('line', { x1: pad.left, y1: y(0), x2: width - pad.right, y2: y(0), stroke: 'currentColor', 'stroke-opacity': 0.4 }));
  svg.append(el('line', { x1: pad.left, y1: pad.top, x2: pad.left, y2: y(0), stroke: 'currentColor', 'stroke-opacity': 0.4 }));
  for (const tick of [0, yMax]) svg.append(el('text', { x: pad.left - 6, y: y(tick) + 4, 'text-anchor': 'end' }, fmt(tick)));
  for (const tick of [0, xMax]) svg.append(el('text', { x: x(tick), y: height - pad.bottom + 16, 'text-anchor': 'middle' }, fmt(tick)));
  svg.append(el('text', { x: (pad.left + width - pad.right) / 2, y: height - 6, 'text-anchor': 'middle' }, xLabel));
  svg.append(el('text', { x: 12, y: pad.top + (height - pad.top - pad.bottom) / 2, transform: `rotate(-90 12 ${pad.top + (height - pad.top - pad.bottom) / 2})`, 'text-anchor': 'middle' }, yLabel));
  svg.append(el('polyline', { points: points.map(([a, b]) => `${x(a)},${y(b)}`).join(' '), fill: 'none', stroke: COLOURS[0] ?? '#000', 'stroke-width': 2.5, 'data-points': points.length }));
  svg.append(el('line', { x1: x(now), y1: pad.top, x2: x(now), y2: y(0), stroke: COLOURS[1] ?? '#000', 'stroke-dasharray': '4 3' }));
  svg.append(el('text', { x: Math.min(x(now) + 4, width - pad.right - 30), y: pad.top + 10, fill: COLOURS[1] ?? '#000' }, 'now'));
  return svg;
}

/** One agent's cumulative accuracy, job by job: `right[i]` says whether its final answer in its
 * `i`-th settled job was the settled answer; `labels[i]` names that job; `firstRight`, where
 * known, whether its first-round answer (before it saw the others') was, drawn dashed. */
export function accuracyChart(agent: string, right: boolean[], labels: string[], firstRight?: (boolean | null)[]): SVGSVGElement {
  const width = 360;
  const height = 150;
  const pad = { left: 44, right: 16, top: 12, bottom: 30 };
  const n = right.length;
  const x = (i: number) => pad.left + (n <= 1 ? (width - pad.left - pad.right) / 2 : (i * (width - pad.left - pad.right)) / (n - 1));
  const y = (share: number) => height - pad.bottom - share * (height - pad.top - pad.bottom);
  let hits = 0;
  const shares = right.map((r, i) => (hits += r ? 1 : 0) / (i + 1));
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'data-testid': 'accuracy-chart', 'data-agent': agent, 'data-points': n }) as SVGSVGElement;
  svg.append(el('title', {}, n === 0
    ? 'No settled jobs yet.'
    : `Accuracy after each of ${n} settled job(s): ${shares.map((s, i) => `${labels[i] ?? i + 1}: ${Math.round(s * 100)}%`).join(', ')}`));
  svg.append(el('line', { x1: pad.left, y1: y(0), x2: width - pad.right, y2: y(0), stroke: 'currentColor', 'stroke-opacity': 0.4 }));
  svg.append(el('line', { x1: pad.left, y1: y(1), x2: width - pad.right, y2: y(1), stroke: 'currentColor', 'stroke-opacity': 0.15 }));
  for (const tick of [0, 0.5, 1]) svg.append(el('text', { x: pad.left - 6, y: y(tick) + 4, 'text-anchor': 'end' }, `${tick * 100}%`));
  labels.forEach((label, i) => {
    if (n <= 12 || i === 0 || i === n - 1) svg.append(el('text', { x: x(i), y: height - pad.bottom + 16, 'text-anchor': 'middle' }, label));
  });
  if (n > 0) {
    svg.append(el('polyline', { points: shares.map((s, i) => `${x(i)},${y(s)}`).join(' '), fill: 'none', stroke: COLOURS[0] ?? '#000', 'stroke-width': 2 }));
    if (firstRight?.some((r) => r !== null)) {
      let known = 0;
      let firstHits = 0;
      const firstShares = firstRight.map((r, i) => {
        if (r === null) return null;
        known++;
        firstHits += r ? 1 : 0;
        return [i, firstHits / known] as const;
      }).filter((p): p is readonly [number, number] => p !== null);
      svg.append(el('polyline', { points: firstShares.map(([i, s]) => `${x(i)},${y(s)}`).join(' '), fill: 'none', stroke: COLOURS[4] ?? '#000', 'stroke-width': 1.5, 'stroke-dasharray': '5 3', 'data-line': 'first-round' }));
    }
    shares.forEach((s, i) => svg.append(el('circle', { cx: x(i), cy: y(s), r: 3.5, fill: right[i] ? COLOURS[2] ?? '#000' : COLOURS[1] ?? '#000', 'data-right': String(right[i]) })));
  }
  return svg;
}

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

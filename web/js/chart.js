// The range-query graph: an SVG line chart written for this page, one
// path per series, with a legend and a hover cursor that lists every
// series' value at the pointer.

import { formatTime } from './time.js';

const NS = 'http://www.w3.org/2000/svg';
const HEIGHT = 360;
const M = { left: 64, right: 12, top: 10, bottom: 28 };
// Distinguishable hues, each at least 3:1 against white (WCAG non-text).
const PALETTE = ['#1d4ed8', '#b91c1c', '#047857', '#7c3aed', '#b45309', '#0e7490', '#be185d', '#4d7c0f', '#6b7280', '#9a3412'];

/** The colour of the i-th series. */
export const colour = (i) => PALETTE[i % PALETTE.length];

function el(name, attrs = {}, parent = null) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.append(e);
  return e;
}

/** About `n` round tick values covering [lo, hi]. */
function ticks(lo, hi, n) {
  const span = hi - lo;
  const raw = span / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Short value labels: 1.5k, 2M, 0.001. */
function formatValue(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
  return String(+v.toPrecision(4));
}

/**
 * Per series, the y value drawn at each step index (null for a gap):
 * the sample itself, or with `stacked` the running sum over the series
 * before it at the same time.
 */
function drawnValues(series, steps, stacked) {
  const base = new Array(steps).fill(0);
  return series.map((s) => {
    const ys = new Array(steps).fill(null);
    for (const [k, v] of s.points) {
      if (!Number.isFinite(v)) continue;
      if (stacked) {
        base[k] += v;
        ys[k] = base[k];
      } else ys[k] = v;
    }
    return ys;
  });
}

/**
 * Draws `series` ([{ label, points: [[stepIndex, value]] }]) between
 * `start` and `end` (ms) at `step` (ms) into `box`, and the legend into
 * `legend`.
 */
export function renderChart(box, legend, series, { start, end, step, stacked }) {
  box.replaceChildren();
  legend.replaceChildren();
  const steps = Math.floor((end - start) / step) + 1;
  const ys = drawnValues(series, steps, stacked);
  const flat = ys.flat().filter((v) => v !== null);
  const width = Math.max(box.clientWidth || 800, 320);
  const svg = el('svg', { viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img', 'aria-label': `Graph of ${series.length} series` }, box);
  if (!flat.length) {
    el('text', { x: width / 2, y: HEIGHT / 2, 'text-anchor': 'middle' }, svg).textContent = 'No data points';
    return;
  }
  // A loop, not Math.min(...flat): spreading many points overflows the stack.
  let lo = stacked ? 0 : Infinity;
  let hi = -Infinity;
  for (const v of flat) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const x = (k) => M.left + ((start + k * step - start) / Math.max(end - start, 1)) * (width - M.left - M.right);
  const y = (v) => M.top + (1 - (v - lo) / (hi - lo)) * (HEIGHT - M.top - M.bottom);
  axes(svg, { width, lo, hi, start, end, x, y, step });
  ys.forEach((vals, i) => {
    el('path', { class: 'series', d: pathData(vals, x, y), stroke: colour(i), 'data-series': series[i].label }, svg);
  });
  series.forEach((s, i) => legend.append(legendItem(s.label, i)));
  hover(box, svg, { series, width, steps, x, start, step });
}

function pathData(vals, x, y) {
  let d = '';
  let pen = false;
  vals.forEach((v, k) => {
    if (v === null) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${x(k).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

function axes(svg, { width, lo, hi, start, end, y }) {
  const bottom = HEIGHT - M.bottom;
  for (const v of ticks(lo, hi, 5)) {
    el('line', { class: 'grid', x1: M.left, x2: width - M.right, y1: y(v), y2: y(v) }, svg);
    el('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, svg).textContent = formatValue(v);
  }
  const long = end - start > 86400e3;
  const plotW = width - M.left - M.right;
  const n = Math.max(2, Math.floor(plotW / 110));
  for (let i = 0; i <= n; i++) {
    const t = start + ((end - start) * i) / n;
    const px = M.left + (plotW * i) / n;
    el('line', { class: 'axis', x1: px, x2: px, y1: bottom, y2: bottom + 4 }, svg);
    el('text', { x: px, y: bottom + 18, 'text-anchor': i === 0 ? 'start' : i === n ? 'end' : 'middle' }, svg).textContent = formatTime(t, long);
  }
  el('line', { class: 'axis', x1: M.left, x2: width - M.right, y1: bottom, y2: bottom }, svg);
  el('line', { class: 'axis', x1: M.left, x2: M.left, y1: M.top, y2: bottom }, svg);
}

function legendItem(label, i) {
  const li = document.createElement('li');
  const sw = document.createElement('span');
  sw.className = 'swatch';
  sw.style.background = colour(i);
  sw.setAttribute('aria-hidden', 'true');
  const text = document.createElement('span');
  text.className = 'legend-label';
  text.textContent = label;
  li.append(sw, text);
  return li;
}

/** The cursor line and the tooltip with each series' raw value. */
function hover(box, svg, { series, width, steps, x, start, step }) {
  const cursor = el('line', { class: 'cursor', y1: M.top, y2: HEIGHT - M.bottom, visibility: 'hidden' }, svg);
  const tip = document.createElement('div');
  tip.className = 'tooltip';
  tip.id = 'chart-tooltip';
  tip.hidden = true;
  box.append(tip);
  const byStep = series.map((s) => new Map(s.points.map(([k, v, raw]) => [k, raw])));
  svg.addEventListener('mousemove', (e) => {
    const r = svg.getBoundingClientRect();
    const px = ((e.clientX - r.left) / r.width) * width;
    const k = Math.round(((px - M.left) / (width - M.left - M.right)) * (steps - 1));
    if (k < 0 || k >= steps) return;
    cursor.setAttribute('x1', x(k));
    cursor.setAttribute('x2', x(k));
    cursor.setAttribute('visibility', 'visible');
    tip.replaceChildren(tipHeader(start + k * step));
    byStep.forEach((m, i) => {
      if (m.has(k)) tip.append(tipRow(series[i].label, m.get(k), i));
    });
    tip.hidden = false;
    const left = Math.min(e.clientX - r.left + 14, r.width - tip.offsetWidth - 4);
    tip.style.left = `${Math.max(left, 0)}px`;
    tip.style.top = `${e.clientY - r.top + 14}px`;
  });
  svg.addEventListener('mouseleave', () => {
    cursor.setAttribute('visibility', 'hidden');
    tip.hidden = true;
  });
}

function tipHeader(t) {
  const h = document.createElement('div');
  h.textContent = formatTime(t, true);
  return h;
}

function tipRow(label, raw, i) {
  const row = document.createElement('div');
  row.className = 'row';
  const sw = document.createElement('span');
  sw.className = 'swatch';
  sw.style.background = colour(i);
  const v = document.createElement('strong');
  v.textContent = raw;
  const l = document.createElement('span');
  l.textContent = label;
  row.append(sw, v, l);
  return row;
}

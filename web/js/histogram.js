// Native histograms in the page: count, sum and bucket rows for the
// table, and the quantile lines the graph draws for histogram series.

import { apiGet, showOutcome } from './api.js';
import { formatSeries } from './promql.js';

/** The quantiles drawn for each histogram series, with their legend names. */
export const QUANTILES = [
  ['p50', 0.5],
  ['p90', 0.9],
  ['p99', 0.99],
];

/**
 * A bucket's range from the API's `[rule, lower, upper, count]`, with the
 * boundary rule Prometheus uses: 0 (lower, upper], 1 [lower, upper),
 * 2 (lower, upper), 3 [lower, upper].
 */
export function bucketRange([rule, lower, upper]) {
  const open = rule === 1 || rule === 3 ? '[' : '(';
  const close = rule === 0 || rule === 3 ? ']' : ')';
  return `${open}${lower}, ${upper}${close}`;
}

/** A histogram ({ count, sum, buckets }) as a table cell's content. */
export function histogramCell(h) {
  const box = document.createElement('div');
  box.className = 'histogram';
  const totals = document.createElement('p');
  totals.className = 'totals';
  totals.textContent = `Count: ${h.count}, Sum: ${h.sum}`;
  const table = document.createElement('table');
  table.className = 'buckets';
  const head = table.createTHead().insertRow();
  for (const name of ['Bucket', 'Count']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = name;
    head.append(th);
  }
  const body = table.createTBody();
  for (const b of h.buckets || []) {
    const tr = body.insertRow();
    tr.insertCell().textContent = bucketRange(b);
    tr.insertCell().textContent = b[3];
  }
  box.append(totals, table);
  return box;
}

/** A series' labels without `__name__`, which histogram_quantile drops. */
const key = (metric) =>
  JSON.stringify(
    Object.entries(metric)
      .filter(([k]) => k !== '__name__')
      .sort(),
  );

/**
 * The quantile lines of a range result's native histogram series: for
 * each of QUANTILES, the range query `histogram_quantile(q, (expr))` with
 * the same `params`, so the numbers are the server's own. Only results
 * that belong to a histogram series of `data` are kept (not those of
 * classic `le` buckets the expression may also return). `toPoints` turns
 * a result's `values` into chart points. A failed query shows its error.
 */
export async function quantileSeries(expr, params, data, toPoints) {
  const hists = new Map();
  for (const s of data.result || []) {
    if (s.histograms && s.histograms.length) hists.set(key(s.metric), formatSeries(s.metric));
  }
  if (!hists.size) return [];
  const rest = params.filter(([k]) => k !== 'query');
  // The newlines keep a trailing `# comment` in `expr` from eating the parentheses.
  const answers = await Promise.all(
    QUANTILES.map(([, q]) => apiGet('/api/v1/query_range', [['query', `histogram_quantile(${q}, (\n${expr}\n))`], ...rest])),
  );
  const lines = [];
  answers.forEach((res, i) => {
    if (!res.ok) {
      showOutcome(res);
      return;
    }
    for (const s of res.data.result) {
      const label = hists.get(key(s.metric));
      if (label !== undefined) lines.push({ series: label, order: i, points: toPoints(s.values || []) });
    }
  });
  // Each series' quantiles together, lowest first.
  lines.sort((a, b) => (a.series < b.series ? -1 : a.series > b.series ? 1 : a.order - b.order));
  return lines.map((l) => ({ label: `${QUANTILES[l.order][0]} ${l.series}`, points: l.points }));
}

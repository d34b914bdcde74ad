// The instant-query table, and the conversion of range results into the
// chart's series.

import { histogramCell } from './histogram.js';
import { formatSeries } from './promql.js';

/** Most rows drawn; the summary says when there were more. */
const MAX_ROWS = 2000;

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.append(c);
    else td.textContent = c;
    tr.append(td);
  }
  return tr;
}

/**
 * The rows of an instant result: [series, value] pairs, the value a text
 * or, for a native histogram, its count, sum and bucket table.
 */
function rows(data) {
  switch (data.resultType) {
    case 'vector':
      return data.result.map((s) => [formatSeries(s.metric), s.value ? s.value[1] : histogramCell(s.histogram[1])]);
    case 'matrix':
      return data.result.map((s) => [
        formatSeries(s.metric),
        [
          ...(s.values || []).map(([t, v]) => `${v} @${t}`),
          ...(s.histograms || []).map(([t, h]) => `histogram (count ${h.count}, sum ${h.sum}) @${t}`),
        ].join('\n'),
      ]);
    case 'scalar':
    case 'string':
      return [[data.resultType, data.result[1]]];
    default:
      return [];
  }
}

/** Fills the table body with an instant query's `data`. */
export function renderTable(tbody, summary, data) {
  const all = rows(data);
  const shown = all.slice(0, MAX_ROWS);
  tbody.replaceChildren(...shown.map(row));
  const kind = data.resultType;
  summary.textContent =
    all.length > MAX_ROWS
      ? `${kind}: showing ${MAX_ROWS} of ${all.length} rows`
      : `${kind}: ${all.length} ${all.length === 1 ? 'row' : 'rows'}`;
}

/**
 * A range result's `values` as chart points: [stepIndex, value, raw text]
 * on the grid start + k * step.
 */
export function toPoints(values, start, step) {
  return values.map(([t, v]) => [Math.round((t * 1000 - start) / step), Number(v), v]);
}

/**
 * A range result's float series as chart series (series holding only
 * native histograms are drawn as quantiles instead, see histogram.js).
 */
export function toChartSeries(data, start, step) {
  if (data.resultType !== 'matrix') return [];
  return data.result
    .filter((s) => s.values && s.values.length)
    .map((s) => ({ label: formatSeries(s.metric), points: toPoints(s.values, start, step) }));
}

// The cardinality explorer: the caller's tenant head from
// /api/v1/status/tsdb, each name a button that opens its query; and the
// tenant's usage by day from /api/v1/status/usage.

import { apiGet, clearMessages, showOutcome } from './api.js';
import { labelQuery, metricQuery, pairQuery } from './promql.js';

const LISTS = [
  ['card-metrics', 'seriesCountByMetricName', metricQuery],
  ['card-labels', 'labelValueCountByLabelName', labelQuery],
  ['card-pairs', 'seriesCountByLabelValuePair', pairQuery],
  ['card-memory', 'memoryInBytesByLabelName', labelQuery],
];

function entryRow(entry, toQuery, open) {
  const tr = document.createElement('tr');
  const name = document.createElement('td');
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = entry.name;
  const q = toQuery(entry.name);
  b.title = `Query ${q}`;
  b.addEventListener('click', () => open(q));
  name.append(b);
  const value = document.createElement('td');
  value.textContent = String(entry.value);
  tr.append(name, value);
  return tr;
}

/** Loads the statistics with `limit` entries per list; `open(expr)` runs a query. */
export async function loadExplorer(limit, open) {
  clearMessages();
  const res = await apiGet('/api/v1/status/tsdb', [['limit', String(limit)]]);
  showOutcome(res);
  const stats = document.getElementById('head-stats');
  for (const [id] of LISTS) document.querySelector(`#${id} tbody`).replaceChildren();
  if (!res.ok) {
    stats.textContent = '';
    return;
  }
  const h = res.data.headStats;
  stats.textContent = `${h.numSeries} series, ${h.numLabelPairs} label pairs, ${h.chunkCount} chunks in the head`;
  for (const [id, key, toQuery] of LISTS) {
    const list = res.data[key] || [];
    document.querySelector(`#${id} tbody`).replaceChildren(...list.map((e) => entryRow(e, toQuery, open)));
  }
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

/** Loads the caller's usage: what it occupies now and its days, newest first. */
export async function loadUsage() {
  const res = await apiGet('/api/v1/status/usage');
  const now = document.getElementById('usage-now');
  const body = document.querySelector('#usage-days tbody');
  if (!res.ok) {
    now.textContent = '';
    body.replaceChildren();
    return;
  }
  const d = res.data;
  now.textContent = `${d.active_series} active series, ${d.samples_in_blocks} samples in blocks, ${d.bytes_on_disk} bytes on disk`;
  const rows = [...d.days].reverse().map((day) => {
    const tr = document.createElement('tr');
    const rejected = Object.values(day.samples_rejected || {}).reduce((a, b) => a + b, 0);
    tr.append(cell(day.date), cell(String(day.samples_ingested)), cell(String(day.series_created)),
      cell(String(rejected)), cell(String(day.queries)), cell(String(day.samples_read)));
    return tr;
  });
  body.replaceChildren(...rows);
}

// The page's wiring: views, result tabs, the query form and its controls.
// Which view, tab and expression are shown is kept in the URL's hash so a
// page can be bookmarked or shared (credentials never are).

import { apiGet, clearMessages, showMessage, showOutcome } from './api.js';
import { attachAuth, refreshIdentity } from './auth.js';
import { renderChart } from './chart.js';
import { attachCompletion, resetCompletions } from './complete.js';
import { loadExplorer, loadUsage } from './explorer.js';
import { quantileSeries } from './histogram.js';
import { renderTable, toChartSeries, toPoints } from './table.js';
import { autoStepMs, endMs, formatDuration, parseDuration, toSeconds } from './time.js';

const $ = (id) => document.getElementById(id);
const state = { view: 'query', tab: 'table', lastRange: null, seq: 0 };

function saveHash() {
  const h = new URLSearchParams({ view: state.view, tab: state.tab, expr: $('expr').value, range: $('range').value });
  history.replaceState(null, '', `#${h}`);
}

function loadHash() {
  // Prometheus's own links (/graph?g0.expr=...&g0.tab=0) open here too.
  const q = new URLSearchParams(location.search);
  if (q.get('g0.expr')) $('expr').value = q.get('g0.expr');
  if (q.get('g0.range_input')) $('range').value = q.get('g0.range_input');
  if (q.get('g0.tab') === '0') state.tab = 'graph';
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.get('expr')) $('expr').value = h.get('expr');
  if (h.get('range')) $('range').value = h.get('range');
  if (h.get('tab') === 'graph') state.tab = 'graph';
  if (h.get('view') === 'cardinality') state.view = 'cardinality';
}

/** Selects one tab of a tablist, showing its panel and hiding the others. */
function selectTab(tabs, chosen) {
  for (const t of tabs) {
    const on = t === chosen;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
}

/** Arrow keys move between tabs, as the ARIA tabs pattern expects. */
function tabKeys(tabs, activate) {
  tabs.forEach((t, i) =>
    t.addEventListener('keydown', (e) => {
      const d = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (!d) return;
      const next = tabs[(i + d + tabs.length) % tabs.length];
      next.focus();
      activate(next);
    }),
  );
}

function showView(view) {
  state.view = view;
  selectTab([$('view-query-tab'), $('view-cardinality-tab')], $(`view-${view}-tab`));
  saveHash();
  if (view === 'cardinality') {
    loadExplorer(Number($('card-limit').value) || 10, openQuery);
    loadUsage();
  }
}

function showTab(tab) {
  state.tab = tab;
  selectTab([$('tab-table'), $('tab-graph')], $(`tab-${tab}`));
  saveHash();
  if ($('expr').value.trim()) run();
}

/** Opens the expression browser on `expr` (from the explorer) and runs it. */
function openQuery(expr) {
  $('expr').value = expr;
  showView('query');
  state.tab = 'table';
  showTab('table');
  $('expr').focus();
}

/** The range, end and step in ms; null (with a message) if one is invalid. */
function timeWindow() {
  const range = parseDuration($('range').value);
  if (range === null) {
    showMessage('error', `invalid range ${JSON.stringify($('range').value)}: use a duration such as 1h or 30m`);
    return null;
  }
  const end = endMs($('end'));
  const auto = autoStepMs(range);
  $('step').placeholder = `auto (${formatDuration(auto)})`;
  const typed = $('step').value.trim();
  const step = typed ? parseDuration(typed) : auto;
  if (step === null) {
    showMessage('error', `invalid step ${JSON.stringify(typed)}: use a duration such as 15s`);
    return null;
  }
  return { start: end - range, end, step };
}

async function run() {
  const expr = $('expr').value.trim();
  saveHash();
  clearMessages();
  if (!expr) return;
  const w = timeWindow();
  if (!w) return;
  const seq = ++state.seq;
  if (state.tab === 'table') {
    const res = await apiGet('/api/v1/query', [['query', expr], ['time', toSeconds(w.end)]]);
    if (seq !== state.seq) return;
    showOutcome(res);
    if (res.ok) renderTable(document.querySelector('#result-table tbody'), $('table-summary'), res.data);
    else clearTable();
    return;
  }
  const params = [['query', expr], ['start', toSeconds(w.start)], ['end', toSeconds(w.end)], ['step', toSeconds(w.step)]];
  const res = await apiGet('/api/v1/query_range', params);
  if (seq !== state.seq) return;
  showOutcome(res);
  if (!res.ok) {
    state.lastRange = null;
    drawGraph();
    return;
  }
  const quantiles = await quantileSeries(expr, params, res.data, (v) => toPoints(v, w.start, w.step));
  if (seq !== state.seq) return;
  state.lastRange = { series: toChartSeries(res.data, w.start, w.step).concat(quantiles), quantiles: quantiles.length, ...w };
  drawGraph();
}

function clearTable() {
  document.querySelector('#result-table tbody').replaceChildren();
  $('table-summary').textContent = '';
}

function drawGraph() {
  const r = state.lastRange;
  if (!r) {
    $('chart').replaceChildren();
    $('legend').replaceChildren();
    $('graph-summary').textContent = '';
    return;
  }
  const n = r.series.length;
  const q = r.quantiles ? ` (${r.quantiles} of them quantiles of native histograms)` : '';
  $('graph-summary').textContent = `${n} series, step ${formatDuration(r.step)}${q}`;
  renderChart($('chart'), $('legend'), r.series, { ...r, stacked: $('stacked').checked });
}

/** After the tenant or credential changed: forget names, redo the view. */
function identityChanged(who) {
  resetCompletions();
  clearTable();
  state.lastRange = null;
  drawGraph();
  if (!who) return; // signed out: nothing may be queried
  if (state.view === 'cardinality') showView('cardinality');
  else if ($('expr').value.trim()) run();
}

function wire() {
  const views = [$('view-query-tab'), $('view-cardinality-tab')];
  views.forEach((t) => t.addEventListener('click', () => showView(t.id.replace(/^view-|-tab$/g, ''))));
  tabKeys(views, (t) => showView(t.id.replace(/^view-|-tab$/g, '')));
  const tabs = [$('tab-table'), $('tab-graph')];
  tabs.forEach((t) => t.addEventListener('click', () => showTab(t.id.slice(4))));
  tabKeys(tabs, (t) => showTab(t.id.slice(4)));
  $('query-form').addEventListener('submit', (e) => {
    e.preventDefault();
    run();
  });
  attachCompletion($('expr'), $('suggestions'), run);
  for (const id of ['range', 'end', 'step']) $(id).addEventListener('change', () => state.tab === 'graph' && run());
  $('end-now').addEventListener('click', () => {
    $('end').value = '';
    run();
  });
  $('stacked').addEventListener('change', drawGraph);
  $('card-form').addEventListener('submit', (e) => {
    e.preventDefault();
    showView('cardinality');
  });
  window.addEventListener('resize', () => state.tab === 'graph' && drawGraph());
  attachAuth(identityChanged);
}

async function start() {
  loadHash();
  wire();
  const who = await refreshIdentity();
  selectTab([$('tab-table'), $('tab-graph')], $(`tab-${state.tab}`));
  if (state.view === 'cardinality') selectTab([$('view-query-tab'), $('view-cardinality-tab')], $('view-cardinality-tab'));
  if (who) identityChanged(who);
  document.body.dataset.ready = 'true';
}

start().catch((e) => showOutcome({ error: String(e), errorType: 'page', warnings: [], infos: [] }));

// Small pieces of PromQL syntax the page needs: quoting, series names,
// the queries the cardinality explorer opens, and where the cursor is
// for autocomplete.

const IDENT = /^[A-Za-z_:][A-Za-z0-9_:]*$/;
const LABEL = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A double-quoted PromQL string literal. */
export function quote(s) {
  return `"${String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** The label name as written in a matcher (quoted when not a plain name). */
export const labelName = (n) => (LABEL.test(n) ? n : quote(n));

/** A series' labels as Prometheus shows them: name{a="b", c="d"}. */
export function formatSeries(metric) {
  const m = metric || {};
  const name = m.__name__ || '';
  const pairs = Object.keys(m)
    .filter((k) => k !== '__name__')
    .map((k) => `${labelName(k)}=${quote(m[k])}`);
  if (!pairs.length) return name || '{}';
  return `${name}{${pairs.join(', ')}}`;
}

/** The query that lists a metric's series. */
export function metricQuery(name) {
  return IDENT.test(name) ? name : `{__name__=${quote(name)}}`;
}

/** The query that counts series per value of a label. */
export function labelQuery(label) {
  const l = labelName(label);
  return `count by (${l}) ({${l}!=""})`;
}

/** The query that counts series per metric for one label=value pair. */
export function pairQuery(pair) {
  const i = pair.indexOf('=');
  if (i < 0) return labelQuery(pair);
  const l = labelName(pair.slice(0, i));
  return `count by (__name__) ({${l}=${quote(pair.slice(i + 1))}})`;
}

/**
 * One left-to-right scan of `text`, skipping string literals: the `{` still
 * open at the end (-1 if none), the quote of an unclosed string (or null),
 * and the depth of unclosed `[`.
 */
function scan(text) {
  let open = -1;
  let q = null;
  let bracket = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '\\') i++;
      else if (c === q) q = null;
    } else if (c === '"' || c === "'" || c === '`') q = c;
    else if (c === '{') open = i;
    else if (c === '}') open = -1;
    else if (c === '[') bracket++;
    else if (c === ']') bracket = Math.max(0, bracket - 1);
  }
  return { open, q, bracket };
}

/** Index of the `{` still open at the end of `text` (outside strings), or -1. */
function openBrace(text) {
  const { open, q } = scan(text);
  return q ? -2 - open : open; // -2 - open: inside a string
}

/** Whether `text` ends inside a string literal or a [range]. */
function inStringOrRange(text) {
  const { q, bracket } = scan(text);
  return q !== null || bracket > 0;
}

/**
 * What the cursor is completing: { kind: 'metric' | 'label' | 'value',
 * prefix, start, label?, metric?, quoted? }, or null where nothing fits.
 */
export function completionContext(text, pos) {
  const before = text.slice(0, pos);
  const ob = openBrace(before);
  const brace = ob >= -1 ? ob : -2 - ob;
  if (brace >= 0) return insideBraces(before, brace, pos);
  const grouping = before.match(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)$/);
  if (grouping && !inStringOrRange(before)) {
    const w = grouping[1].match(/([A-Za-z_][A-Za-z0-9_]*)?$/)[1] || '';
    return { kind: 'label', prefix: w, start: pos - w.length };
  }
  if (inStringOrRange(before)) return null;
  const m = before.match(/(^|[^A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)$/);
  if (!m) return null;
  return { kind: 'metric', prefix: m[2], start: pos - m[2].length };
}

function insideBraces(before, brace, pos) {
  const inner = before.slice(brace + 1);
  const metricM = before.slice(0, brace).match(/([A-Za-z_:][A-Za-z0-9_:]*)\s*$/);
  const metric = metricM ? metricM[1] : null;
  let m = inner.match(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/);
  if (m) return { kind: 'value', label: m[1], prefix: m[2], start: pos - m[2].length, metric, quoted: true };
  m = inner.match(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*$/);
  if (m) return { kind: 'value', label: m[1], prefix: '', start: pos, metric, quoted: false };
  m = inner.match(/(?:^|[,\s])([A-Za-z_][A-Za-z0-9_]*)?$/);
  if (m) {
    const w = m[1] || '';
    return { kind: 'label', prefix: w, start: pos - w.length, metric };
  }
  return null;
}

/** Functions and aggregations offered beside metric names. */
export const FUNCTIONS = [
  'abs', 'absent', 'absent_over_time', 'avg', 'avg_over_time', 'bottomk', 'ceil', 'changes',
  'clamp', 'clamp_max', 'clamp_min', 'count', 'count_over_time', 'count_values', 'delta',
  'deriv', 'exp', 'floor', 'group', 'histogram_quantile', 'idelta', 'increase', 'irate',
  'label_join', 'label_replace', 'last_over_time', 'ln', 'log2', 'log10', 'max',
  'max_over_time', 'min', 'min_over_time', 'predict_linear', 'quantile', 'quantile_over_time',
  'rate', 'resets', 'round', 'scalar', 'sort', 'sort_desc', 'sqrt', 'stddev', 'stdvar', 'sum',
  'sum_over_time', 'time', 'timestamp', 'topk', 'vector',
];

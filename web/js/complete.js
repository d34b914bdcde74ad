// Autocomplete for the query box: metric names, label names and label
// values from the server's label APIs, chosen by where the cursor is.

import { apiGet } from './api.js';
import { completionContext, FUNCTIONS, quote } from './promql.js';

const MAX_SHOWN = 50;
let cache = new Map();

/** Forgets fetched names (after the tenant or credentials change). */
export function resetCompletions() {
  cache = new Map();
}

function cached(key, load) {
  if (!cache.has(key)) {
    cache.set(key, load().then((res) => (res.ok && Array.isArray(res.data) ? res.data : [])));
  }
  return cache.get(key);
}

const match = (metric) => (metric ? [['match[]', metric]] : []);

/** The candidates for a context: [{ text, kind }]. */
async function candidates(ctx) {
  if (ctx.kind === 'metric') {
    const names = await cached('m', () => apiGet('/api/v1/label/__name__/values'));
    return [
      ...names.map((n) => ({ text: n, kind: 'metric' })),
      ...FUNCTIONS.map((f) => ({ text: f, kind: 'function' })),
    ];
  }
  if (ctx.kind === 'label') {
    const names = await cached(`l:${ctx.metric || ''}`, () => apiGet('/api/v1/labels', match(ctx.metric)));
    return names.filter((n) => n !== '__name__' || !ctx.metric).map((n) => ({ text: n, kind: 'label' }));
  }
  const path = `/api/v1/label/${encodeURIComponent(ctx.label)}/values`;
  const values = await cached(`v:${ctx.label}:${ctx.metric || ''}`, () => apiGet(path, match(ctx.metric)));
  return values.map((v) => ({ text: v, kind: 'value' }));
}

/** Prefix matches first, then other substring matches, case-insensitively. */
function rank(items, prefix) {
  const p = prefix.toLowerCase();
  const starts = [];
  const contains = [];
  for (const it of items) {
    const t = it.text.toLowerCase();
    if (t.startsWith(p)) starts.push(it);
    else if (p && t.includes(p)) contains.push(it);
  }
  return [...starts, ...contains].filter((it) => it.text !== prefix).slice(0, MAX_SHOWN);
}

/**
 * Wires autocomplete to a textarea and its listbox; `run` is called when
 * Enter or Ctrl+Enter asks for the query to run.
 */
export function attachCompletion(box, list, run) {
  const st = { items: [], active: -1, ctx: null, seq: 0 };

  const close = () => {
    st.items = [];
    st.active = -1;
    list.hidden = true;
    list.replaceChildren();
    box.setAttribute('aria-expanded', 'false');
    box.removeAttribute('aria-activedescendant');
  };

  const render = () => {
    list.replaceChildren(...st.items.map((it, i) => option(it, i, i === st.active, () => accept(i))));
    list.hidden = st.items.length === 0;
    box.setAttribute('aria-expanded', String(!list.hidden));
    if (st.active >= 0) {
      box.setAttribute('aria-activedescendant', `sugg-${st.active}`);
      list.children[st.active].scrollIntoView({ block: 'nearest' });
    } else box.removeAttribute('aria-activedescendant');
  };

  const accept = (i) => {
    const it = st.items[i];
    if (!it) return;
    const ctx = st.ctx;
    const end = box.selectionStart;
    let text = it.text;
    if (ctx.kind === 'value') {
      text = ctx.quoted ? quote(it.text).slice(1, -1) : quote(it.text);
      if (ctx.quoted && box.value[end] !== '"') text += '"';
    }
    box.setRangeText(text, ctx.start, end, 'end');
    close();
    box.dispatchEvent(new Event('autosize'));
  };

  const update = async () => {
    const seq = ++st.seq;
    const ctx = completionContext(box.value, box.selectionStart);
    if (!ctx) return close();
    const items = rank(await candidates(ctx), ctx.prefix);
    if (seq !== st.seq) return; // a newer keystroke won
    st.ctx = ctx;
    st.items = items;
    st.active = -1;
    render();
  };

  box.addEventListener('input', update);
  // Closing waits a moment so a click on a suggestion lands first, and is
  // skipped if the focus came back meanwhile.
  box.addEventListener('blur', () => setTimeout(() => document.activeElement !== box && close(), 150));
  box.addEventListener('keydown', (e) => {
    const open = !list.hidden && st.items.length > 0;
    if (open && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault();
      const n = st.items.length;
      st.active = e.key === 'ArrowDown' ? (st.active + 1) % n : (st.active - 1 + n) % n;
      render();
    } else if (open && e.key === 'Tab' && !e.shiftKey) {
      e.preventDefault();
      accept(Math.max(st.active, 0));
    } else if (open && e.key === 'Escape') {
      e.preventDefault();
      close();
    } else if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      close();
      run();
    } else if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      if (open && st.active >= 0) accept(st.active);
      else {
        st.seq++; // drop any answer still on its way
        close();
        run();
      }
    }
  });
}

function option(it, i, active, onPick) {
  const li = document.createElement('li');
  li.id = `sugg-${i}`;
  li.setAttribute('role', 'option');
  li.setAttribute('aria-selected', String(active));
  const name = document.createElement('span');
  name.textContent = it.text;
  const kind = document.createElement('span');
  kind.className = 'kind';
  kind.textContent = it.kind;
  li.append(name, kind);
  li.addEventListener('mousedown', (e) => {
    e.preventDefault(); // keep focus in the box
    onPick();
  });
  return li;
}

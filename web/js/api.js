// Calls to the server's own APIs with the page's credentials, and the
// message area that shows what they said.
//
// Credentials live in sessionStorage only: they last as long as the tab
// and never reach a cookie, so no other page or request carries them.

const KEY_AUTH = 'tessera.authorization';
const KEY_ORG = 'tessera.orgid';

const creds = {
  authorization: sessionStorage.getItem(KEY_AUTH) || '',
  orgId: sessionStorage.getItem(KEY_ORG) || '',
};

/** The credentials in force: the Authorization value and X-Scope-OrgID. */
export function credentials() {
  return { ...creds };
}

/** Replaces the credentials (an empty string removes one). */
export function setCredentials({ authorization, orgId }) {
  if (authorization !== undefined) creds.authorization = authorization;
  if (orgId !== undefined) creds.orgId = orgId;
  store(KEY_AUTH, creds.authorization);
  store(KEY_ORG, creds.orgId);
}

function store(key, value) {
  if (value) sessionStorage.setItem(key, value);
  else sessionStorage.removeItem(key);
}

function headers() {
  const h = { Accept: 'application/json' };
  if (creds.authorization) h.Authorization = creds.authorization;
  if (creds.orgId) h['X-Scope-OrgID'] = creds.orgId;
  return h;
}

/**
 * GETs an API path (POSTs the form instead when the URL would be long) and
 * returns { ok, status, data, warnings, infos, error, errorType, challenge }.
 * Bodies that are not Prometheus JSON keep their text as the error.
 */
export async function apiGet(path, params = []) {
  const qs = new URLSearchParams(params).toString();
  const init = { headers: headers(), cache: 'no-store' };
  let url = qs ? `${path}?${qs}` : path;
  if (url.length > 4000) {
    url = path;
    init.method = 'POST';
    init.body = qs;
    init.headers['Content-Type'] = 'application/x-www-form-urlencoded';
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    return failure(0, `request failed: ${e.message}`, 'network');
  }
  const text = await resp.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch (_) {
    body = null;
  }
  const out = {
    ok: resp.ok && body !== null && body.status === 'success',
    status: resp.status,
    data: body ? body.data : undefined,
    warnings: (body && body.warnings) || [],
    infos: (body && body.infos) || [],
    error: null,
    errorType: null,
    challenge: resp.headers.get('WWW-Authenticate'),
  };
  if (!out.ok) {
    out.error = body && typeof body.error === 'string' ? body.error : text.trim() || `HTTP ${resp.status}`;
    out.errorType = body && body.errorType ? body.errorType : `HTTP ${resp.status}`;
  }
  return out;
}

function failure(status, error, errorType) {
  return { ok: false, status, data: undefined, warnings: [], infos: [], error, errorType, challenge: null };
}

const messages = () => document.getElementById('messages');

/** Clears the message area. */
export function clearMessages() {
  messages().replaceChildren();
}

/** Adds one message: kind is 'error', 'warning' or 'info'. */
export function showMessage(kind, text, detail) {
  const div = document.createElement('div');
  div.className = `msg ${kind}`;
  if (kind === 'error') div.setAttribute('role', 'alert');
  const k = document.createElement('span');
  k.className = 'kind';
  const name = { error: 'Error', warning: 'Warning', info: 'Info' }[kind] || kind;
  k.textContent = detail ? `${name} (${detail}):` : `${name}:`;
  const t = document.createElement('span');
  t.className = 'text';
  t.textContent = text;
  div.append(k, t);
  messages().append(div);
}

/** Shows an API answer's error, warnings and infos exactly as phrased. */
export function showOutcome(res) {
  if (res.error !== null) showMessage('error', res.error, res.errorType);
  for (const w of res.warnings) showMessage('warning', w);
  for (const i of res.infos) showMessage('info', i);
}

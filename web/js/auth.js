// The tenancy bar: who the page acts for, and the forms that change it.
//
// The server's mode decides the form: in mode `none` the tenant typed
// here is sent as X-Scope-OrgID; in `tokens` and `jwt` modes the page asks
// for a credential (kept in sessionStorage by api.js) and the credential
// decides the tenant. A caller whose policy federates may name several
// tenants, sent as X-Scope-OrgID `a|b`.

import { apiGet, credentials, setCredentials, showMessage, showOutcome } from './api.js';

const $ = (id) => document.getElementById(id);

/** Asks the server who the page is; redraws the bar; returns the identity or null. */
export async function refreshIdentity() {
  let res = await apiGet('/api/v1/status/whoami');
  if ((res.status === 400 || res.status === 403) && credentials().orgId) {
    // The tenants named are invalid or not allowed: say so, and fall back
    // to the default (mode none) or the credential's own tenant.
    showOutcome(res);
    setCredentials({ orgId: '' });
    res = await apiGet('/api/v1/status/whoami');
  }
  for (const id of ['tenant-form', 'token-form', 'sign-out', 'federate-form']) $(id).hidden = true;
  if (res.status === 401) {
    if (credentials().authorization) showOutcome(res);
    setCredentials({ authorization: '' });
    askForCredential(res.challenge || '');
    return null;
  }
  if (!res.ok) {
    showOutcome(res);
    $('current-tenant').textContent = 'unknown';
    return null;
  }
  show(res.data);
  return res.data;
}

function show(who) {
  $('current-tenant').textContent = who.tenants.join(' | ');
  const p = who.policy;
  const detail = who.authMode === 'none' ? 'auth: none' : `${who.credential}, policy ${p.name}`;
  $('who-detail').textContent = `(${detail})`;
  if (who.authMode === 'none') {
    $('tenant-form').hidden = false;
    $('tenant-input').value = credentials().orgId;
    return;
  }
  $('sign-out').hidden = false;
  if (p.federation) {
    $('federate-form').hidden = false;
    $('federate-input').value = who.tenants.join('|');
    const allowed = p.allowedTenants === 'any' ? 'any tenant' : [who.tenant, ...p.allowedTenants].join(', ');
    $('federate-help').textContent = `separate with |; allowed: ${allowed}`;
  }
}

function askForCredential(challenge) {
  const basic = /^basic/i.test(challenge);
  $('current-tenant').textContent = 'not signed in';
  $('who-detail').textContent = basic ? '(this server asks for a user and password)' : '(this server asks for a bearer token)';
  $('token-form').hidden = false;
  $('token-user').hidden = !basic;
  $('token-user-label').hidden = !basic;
  $('token-label').textContent = basic ? 'Password' : 'Bearer token';
  $('token-form').dataset.scheme = basic ? 'basic' : 'bearer';
}

async function changedIfKnown(changed) {
  const who = await refreshIdentity();
  if (who) changed(who);
}

/** Wires the forms; `changed(who)` runs after the identity changes (null: signed out). */
export function attachAuth(changed) {
  $('tenant-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    setCredentials({ orgId: $('tenant-input').value.trim() });
    changedIfKnown(changed);
  });
  $('token-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const secret = $('token-input').value.trim();
    if (!secret) return showMessage('error', 'enter a credential first');
    const basic = $('token-form').dataset.scheme === 'basic';
    const user = $('token-user').value;
    // btoa covers Latin-1 only; encode UTF-8 first.
    const b64 = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
    const value = basic ? `Basic ${b64(`${user}:${secret}`)}` : `Bearer ${secret}`;
    setCredentials({ authorization: value, orgId: '' });
    $('token-input').value = '';
    changedIfKnown(changed);
  });
  $('sign-out').addEventListener('click', async () => {
    setCredentials({ authorization: '', orgId: '' });
    changed(await refreshIdentity());
  });
  $('federate-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const names = $('federate-input').value.split(/[|,\s]+/).filter(Boolean);
    setCredentials({ orgId: names.join('|') });
    changedIfKnown(changed);
  });
}

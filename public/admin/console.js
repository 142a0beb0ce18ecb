// The operator console: plain DOM, no framework. The admin token lives in this closure only (never stored, never in
// a URL or a cookie); every call is a same-origin fetch to the operator API; nothing from the API is parsed as HTML.
(() => {
  let token = null;
  let after = null;
  let current = null;
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, attrs = {}) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const row = (cells) => {
    const tr = el('tr');
    for (const c of cells) tr.append(c instanceof Node ? wrap(c) : el('td', c ?? '—'));
    return tr;
  };
  const wrap = (node) => {
    const td = el('td');
    td.append(node);
    return td;
  };
  const when = (s) => (s ? new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 16) : '—');

  async function api(path, init = {}) {
    const res = await fetch(path, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers || {}) } });
    const body = res.headers.get('content-type')?.startsWith('application/json') ? await res.json() : await res.text();
    if (!res.ok) throw new Error(body?.error?.message || `HTTP ${res.status}`);
    return body;
  }

  async function loadAccounts(reset) {
    if (reset) {
      after = null;
      $('accounts').tBodies[0].textContent = '';
    }
    const page = await api(`/admin/accounts?limit=50${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    for (const a of page.data) {
      const tr = row([a.account, a.balance_micro, a.held_micro, a.available_micro, a.spent_micro, a.charges]);
      tr.className = 'acct';
      tr.dataset.account = a.account;
      tr.addEventListener('click', () => showAccount(a.account));
      $('accounts').tBodies[0].append(tr);
    }
    after = page.last;
    $('more').hidden = !page.has_more;
  }

  function chart(lines) {
    const svg = $('chart');
    svg.textContent = '';
    const ns = 'http://www.w3.org/2000/svg';
    const day = (t) => Math.floor(t / 86400);
    const today = day(Date.now() / 1000);
    const perDay = new Map();
    for (const l of lines) perDay.set(day(l.at), (perDay.get(day(l.at)) || 0) + Math.max(0, l.cost_micro));
    const max = Math.max(1, ...perDay.values());
    for (let i = 0; i < 30; i++) {
      const d = today - 29 + i;
      const v = perDay.get(d) || 0;
      const h = Math.round((v / max) * 120);
      const r = document.createElementNS(ns, 'rect');
      r.setAttribute('x', String(10 + i * 23));
      r.setAttribute('y', String(130 - h));
      r.setAttribute('width', '18');
      r.setAttribute('height', String(h));
      r.setAttribute('data-day', new Date(d * 86400000).toISOString().slice(0, 10));
      r.setAttribute('data-micro', String(v));
      const title = document.createElementNS(ns, 'title');
      title.textContent = `${new Date(d * 86400000).toISOString().slice(0, 10)}: ${v} µ$`;
      r.append(title);
      svg.append(r);
    }
    const t = document.createElementNS(ns, 'text');
    t.setAttribute('x', '10');
    t.setAttribute('y', '150');
    t.textContent = `max ${max} µ$/day`;
    svg.append(t);
  }

  async function showAccount(name) {
    current = name;
    $('detail').hidden = false;
    $('detail-name').textContent = name;
    $('detail-error').textContent = '';
    const [view, keys, usage, trail] = await Promise.all([
      api(`/admin/accounts/${encodeURIComponent(name)}`).catch(() => null),
      api(`/admin/accounts/${encodeURIComponent(name)}/keys`),
      api(`/admin/accounts/${encodeURIComponent(name)}/usage`),
      api(`/admin/accounts/${encodeURIComponent(name)}/audit`),
    ]);
    $('detail-money').textContent = view
      ? `balance ${view.balance_micro} µ$ · held ${view.held_micro} · available ${view.available_micro} · spent ${view.spent_micro} · ${view.charges} charges`
      : 'no balance record (free tier)';
    const kb = $('keys').tBodies[0];
    kb.textContent = '';
    for (const k of keys.data) {
      const revoke = el('button', 'Revoke');
      revoke.disabled = Boolean(k.revoked_at);
      revoke.addEventListener('click', async () => {
        await api(`/admin/keys/${encodeURIComponent(k.key_id)}`, { method: 'DELETE' });
        await showAccount(name);
      });
      kb.append(row([k.key_id, k.label, k.tier, k.rpm, when(k.created_at), when(k.last_used_at), when(k.expires_at), when(k.revoked_at), revoke]));
    }
    chart(usage.data);
    const ub = $('usage').tBodies[0];
    ub.textContent = '';
    for (const u of usage.data.slice(-50).reverse()) ub.append(row([when(u.at), u.type, u.model, u.units, u.cost_micro, u.key_id, u.request_id]));
    const ab = $('audit').tBodies[0];
    ab.textContent = '';
    const events = String(trail).split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const what = (d) => Object.entries(d).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k}=${v}`).join(' ');
    for (const e of events.slice(-100).reverse()) ab.append(row([when(e.at), e.type, what(e.detail), e.key_id, e.request_id]));
  }

  const guard = (errId, fn) => async (ev) => {
    ev.preventDefault();
    $(errId).textContent = '';
    try {
      await fn();
    } catch (e) {
      $(errId).textContent = e.message;
    }
  };

  $('signin-form').addEventListener('submit', guard('signin-error', async () => {
    token = $('token').value;
    $('token').value = '';
    try {
      await loadAccounts(true);
    } catch (e) {
      token = null;
      throw e;
    }
    $('signin').hidden = true;
    $('app').hidden = false;
    $('signout').hidden = false;
  }));
  $('signout').addEventListener('click', () => location.reload());
  $('more').addEventListener('click', () => loadAccounts(false));
  $('issue-form').addEventListener('submit', guard('issue-error', async () => {
    const body = { tier: $('issue-tier').value, account: $('issue-account').value, credits_micro: Number($('issue-credits').value), rpm: Number($('issue-rpm').value) };
    if ($('issue-label').value) body.label = $('issue-label').value;
    const k = await api('/admin/keys', { method: 'POST', body: JSON.stringify(body) });
    $('issued').hidden = false;
    $('issued-key').textContent = k.key;
    await loadAccounts(true);
    await showAccount(k.account);
  }));
  $('topup-form').addEventListener('submit', guard('detail-error', async () => {
    await api(`/admin/accounts/${encodeURIComponent(current)}/credits`, { method: 'POST', body: JSON.stringify({ amount_micro: Number($('topup-amount').value) }) });
    await showAccount(current);
    await loadAccounts(true);
  }));
  $('adjust-form').addEventListener('submit', guard('detail-error', async () => {
    await api(`/admin/accounts/${encodeURIComponent(current)}/adjustments`, { method: 'POST', body: JSON.stringify({ amount_micro: Number($('adjust-amount').value), reason: $('adjust-reason').value }) });
    await showAccount(current);
    await loadAccounts(true);
  }));
})();

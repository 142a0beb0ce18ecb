// The operator console: plain DOM, no framework. The admin token lives in this closure only (never stored, never in
// a URL or a cookie); every call is a same-origin fetch to the operator API; nothing from the API is parsed as HTML.
// Money is integer micro-USD end to end: shown in dollars by integer arithmetic (never a float), micro-USD on hover.
(() => {
  let token = null;
  let accounts = [];
  let current = null;
  const DAY = 86400;
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, attrs = {}) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const cell = (c, cls) => {
    const td = el('td');
    if (cls) td.className = cls;
    if (c instanceof Node) td.append(c);
    else td.textContent = c ?? '—';
    return td;
  };
  const when = (s) => (s ? new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 16) : '—');
  const enc = encodeURIComponent;

  // ---- money: micro-USD integers ↔ "$1.234567" strings, exactly ----
  const usd = (micro) => {
    const m = Number(micro) || 0;
    const abs = Math.abs(m);
    let frac = String(abs % 1e6).padStart(6, '0');
    while (frac.length > 2 && frac.endsWith('0')) frac = frac.slice(0, -1);
    const whole = String(Math.floor(abs / 1e6)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return `${m < 0 ? '−' : ''}$${whole}.${frac}`;
  };
  /** "$1.5", "1.500000", "-0.25" → micro-USD, or null (more than 6 decimals, not a number). */
  const micro = (text, signed = false) => {
    const m = /^\s*([-+−])?\s*\$?\s*(\d{1,9})?(?:\.(\d{1,6}))?\s*$/.exec(String(text));
    if (!m || (m[2] === undefined && m[3] === undefined) || (m[1] && !signed)) return null;
    const v = Number(m[2] ?? 0) * 1e6 + Number((m[3] ?? '').padEnd(6, '0'));
    return m[1] === '-' || m[1] === '−' ? -v : v;
  };
  const money = (m) => {
    const s = el('span', usd(m), { class: 'money', title: `${m} µ$` });
    s.dataset.micro = String(m);
    return s;
  };

  // ---- states: loading, empty, error per view ----
  const state = (id, kind, text = '') => {
    const p = $(id);
    p.dataset.state = kind;
    p.textContent = kind === 'loading' ? 'Loading…' : text;
    p.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  };
  const done = (id) => state(id, 'ready');

  async function api(path, init = {}) {
    const res = await fetch(path, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers || {}) } });
    const type = res.headers.get('content-type') || '';
    const body = type.startsWith('application/json') ? await res.json() : type.startsWith('text/csv') ? await res.blob() : await res.text();
    if (!res.ok) throw Object.assign(new Error(body?.error?.message || `HTTP ${res.status}`), { status: res.status });
    return body;
  }

  // ---- dialogs: confirm, budget ----
  function confirmDialog(text, action) {
    const d = $('confirm');
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = action;
    d.returnValue = '';
    d.showModal();
    return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true }));
  }

  // ---- charts: bars in SVG, heights by float (drawing only), labels and titles exact ----
  const NS = 'http://www.w3.org/2000/svg';
  const svgEl = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  function dayChart(svg, rows, to) {
    svg.textContent = '';
    const W = 600;
    const H = 150;
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const per = new Map(rows.map((r) => [r.group, r.spend_micro]));
    const last = Math.floor(to / DAY);
    const days = Array.from({ length: 30 }, (_, i) => new Date((last - 29 + i) * DAY * 1000).toISOString().slice(0, 10));
    const max = Math.max(1, ...days.map((d) => per.get(d) || 0));
    const bw = W / 30;
    days.forEach((d, i) => {
      const v = Math.max(0, per.get(d) || 0);
      const h = Math.round((v / max) * (H - 30));
      const r = svgEl('rect', { x: (i * bw + 1).toFixed(1), y: H - 18 - h, width: (bw - 2).toFixed(1), height: h, 'data-day': d, 'data-micro': v });
      r.append(svgEl('title', {}, `${d}: ${usd(v)} (${v} µ$)`));
      svg.append(r);
    });
    svg.append(svgEl('text', { x: 2, y: H - 4 }, `${days[0]} … ${days[29]}`));
    if (days.some((d) => (per.get(d) || 0) > 0)) svg.append(svgEl('text', { x: W - 2, y: 10, 'text-anchor': 'end' }, `max ${usd(max)}/day`));
    else svg.append(svgEl('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no spend in this range'));
    svg.dataset.total = String(rows.reduce((n, r) => n + r.spend_micro, 0));
  }
  function modelChart(svg, rows) {
    svg.textContent = '';
    const list = rows.filter((r) => r.spend_micro > 0 || r.requests > 0);
    const W = 600;
    const H = Math.max(40, list.length * 26 + 8);
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    if (!list.length) {
      svg.append(svgEl('text', { x: 4, y: 24 }, 'no usage in this range'));
      return;
    }
    const max = Math.max(1, ...list.map((r) => r.spend_micro));
    list.forEach((r, i) => {
      const w = Math.round((Math.max(0, r.spend_micro) / max) * (W - 260));
      const y = 4 + i * 26;
      svg.append(svgEl('text', { x: 4, y: y + 15 }, r.group));
      const bar = svgEl('rect', { x: 110, y, width: Math.max(1, w), height: 20, 'data-model': r.group, 'data-micro': r.spend_micro });
      bar.append(svgEl('title', {}, `${r.group}: ${usd(r.spend_micro)} (${r.spend_micro} µ$), ${r.requests} requests`));
      svg.append(bar, svgEl('text', { x: 116 + w, y: y + 15 }, `${usd(r.spend_micro)} · ${r.requests} req`));
    });
  }
  const range = () => {
    const to = Math.floor(Date.now() / 1000);
    return { from: to - 30 * DAY, to };
  };

  // ---- overview ----
  function kpis(dl, t) {
    dl.textContent = '';
    const refused = Object.values(t.refusals).reduce((a, b) => a + b, 0);
    const items = [
      ['requests', t.requests],
      ['successes', t.successes],
      ['failures', t.failures],
      ['refusals', refused, Object.entries(t.refusals).map(([k, v]) => `${k}: ${v}`).join(', ')],
      ['spend', money(t.spend_micro)],
      ['upstream p50 / p95', t.latency_ms.samples ? `${t.latency_ms.p50} / ${t.latency_ms.p95} ms` : '—'],
    ];
    for (const [k, v, title] of items) {
      const dd = el('dd');
      if (v instanceof Node) dd.append(v);
      else dd.textContent = String(v);
      if (title) dd.title = title;
      dd.dataset.kpi = k;
      const pair = el('div');
      pair.append(el('dt', k), dd);
      dl.append(pair);
    }
  }
  async function loadOverview() {
    state('overview-state', 'loading');
    const { from, to } = range();
    try {
      const [days, models] = await Promise.all([api(`/admin/stats?group=day&from=${from}&to=${to}`), api(`/admin/stats?group=model&from=${from}&to=${to}`)]);
      kpis($('gw-kpis'), days.total);
      dayChart($('gw-day'), days.data, to);
      modelChart($('gw-model'), models.data);
      if (days.total.requests === 0) state('overview-state', 'empty', 'No requests in the last 30 days.');
      else done('overview-state');
    } catch (e) {
      state('overview-state', 'error', `Could not load the gateway's statistics: ${e.message}`);
    }
  }

  // ---- accounts: all pages, then search / filter / sort here ----
  async function loadAccounts() {
    state('accounts-state', 'loading');
    try {
      const all = [];
      let after = null;
      for (let i = 0; i < 100; i++) {
        const page = await api(`/admin/accounts?limit=100${after ? `&after=${enc(after)}` : ''}`);
        all.push(...page.data);
        if (!page.has_more) break;
        after = page.last;
      }
      accounts = all;
      renderAccounts();
    } catch (e) {
      $('accounts').tBodies[0].textContent = '';
      state('accounts-state', 'error', `Could not load the accounts: ${e.message}`);
    }
  }
  function renderAccounts() {
    const q = $('acct-search').value.trim().toLowerCase();
    const filter = $('acct-filter').value;
    const sort = $('acct-sort').value;
    const keep = { all: () => true, funded: (a) => a.balance_micro > 0, spending: (a) => a.spent_micro > 0, shared: (a) => a.shared };
    const order = {
      name: (a, b) => (a.account < b.account ? -1 : 1),
      balance: (a, b) => b.balance_micro - a.balance_micro,
      spend: (a, b) => b.spent_micro - a.spent_micro,
      last: (a, b) => (b.last_used_at || 0) - (a.last_used_at || 0),
    };
    const list = accounts.filter((a) => a.account.includes(q) && keep[filter](a)).sort((a, b) => order[sort](a, b) || (a.account < b.account ? -1 : 1));
    const body = $('accounts').tBodies[0];
    body.textContent = '';
    for (const a of list) {
      const tr = el('tr', undefined, { tabindex: '0', class: 'acct', 'data-account': a.account });
      const name = el('span', a.account);
      const first = cell(name);
      if (a.shared) first.append(' ', el('span', 'shared test key', { class: 'badge' }));
      tr.append(first, cell(money(a.balance_micro), 'num'), cell(money(a.held_micro), 'num'), cell(money(a.spent_micro), 'num'), cell(a.charges, 'num'), cell(when(a.last_used_at)));
      if (a.account === current) tr.setAttribute('aria-current', 'true');
      tr.addEventListener('click', () => showAccount(a.account));
      tr.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter' || ev.key === ' ') {
          ev.preventDefault();
          showAccount(a.account);
        }
      });
      body.append(tr);
    }
    if (!accounts.length) state('accounts-state', 'empty', 'No accounts yet: issue a key to open one.');
    else if (!list.length) state('accounts-state', 'empty', 'No account matches.');
    else state('accounts-state', 'ready', `${list.length} of ${accounts.length} accounts`);
  }

  // ---- one account ----
  async function showAccount(name) {
    current = name;
    const shared = accounts.find((a) => a.account === name)?.shared ?? name === 'test';
    $('detail').hidden = false;
    $('detail-name').textContent = name;
    $('detail-badge').hidden = !shared;
    for (const id of ['money-forms', 'webhook-form']) $(id).hidden = shared;
    $('detail-error').textContent = '';
    $('webhook-error').textContent = '';
    $('webhook-secret-box').hidden = true;
    for (const r of $('accounts').tBodies[0].rows) r.toggleAttribute('aria-current', r.dataset.account === name);
    $('detail-h').focus();
    await Promise.all([loadMoney(name, shared), loadKeys(name, shared), loadWebhook(name, shared), loadUsage(name), loadAudit(name)]);
  }
  const a = (name) => `/admin/accounts/${enc(name)}`;
  const FREE = 'The free tier: no balance ($0 per request). The shared key is TEST_API_KEY (configured, not issued here); its usage is below.';

  async function loadMoney(name, shared) {
    state('detail-state', 'loading');
    const p = $('detail-money');
    p.textContent = '';
    try {
      const v = await api(a(name));
      if (name !== current) return;
      // The list's row follows what was just read (the list itself reloads on a change).
      const row = accounts.find((x) => x.account === name);
      if (row) {
        Object.assign(row, { balance_micro: v.balance_micro, held_micro: v.held_micro, spent_micro: v.spent_micro, charges: v.charges, last_used_at: v.last_used_at });
        renderAccounts();
      }
      if (shared) p.append(FREE, ' Last use ', when(v.last_used_at), '.');
      else p.append('balance ', money(v.balance_micro), ' · held ', money(v.held_micro), ' · available ', money(v.available_micro), ' · spent ', money(v.spent_micro), ` · ${v.charges} charges`);
      done('detail-state');
    } catch (e) {
      if (e.status === 404 && shared) {
        p.textContent = FREE;
        done('detail-state');
      } else state('detail-state', 'error', `Could not load the account: ${e.message}`);
    }
  }

  async function loadKeys(name, shared) {
    state('keys-state', 'loading');
    const body = $('keys').tBodies[0];
    body.textContent = '';
    const { from, to } = range();
    try {
      const [keys, spend] = await Promise.all([api(`${a(name)}/keys`), api(`/admin/stats?account=${enc(name)}&group=key&from=${from}&to=${to}`)]);
      if (name !== current) return;
      const spent = new Map(spend.data.map((r) => [r.group, r.spend_micro]));
      for (const k of keys.data) {
        const tr = el('tr', undefined, { 'data-key': k.key_id });
        const budget = k.budget_micro === null ? el('span', 'none') : el('span');
        if (k.budget_micro !== null) {
          const per = k.budget_period === 'total' ? 'in total' : `per ${k.budget_period}`;
          budget.append(money(k.budget_spent_micro + k.budget_held_micro), ' of ', money(k.budget_micro), ` ${per}`);
          if (k.budget_resets_at) budget.title = `resets ${when(k.budget_resets_at)} UTC; held for running videos: ${usd(k.budget_held_micro)}`;
        }
        const actions = el('span', undefined, { class: 'actions' });
        const edit = el('button', 'Budget…', { type: 'button', class: 'budget' });
        const revoke = el('button', 'Revoke', { type: 'button', class: 'revoke danger' });
        edit.disabled = revoke.disabled = Boolean(k.revoked_at);
        edit.addEventListener('click', () => editBudget(k));
        revoke.addEventListener('click', async () => {
          const what = k.label ? `${k.key_id} (${k.label})` : k.key_id;
          if (!(await confirmDialog(`Revoke key ${what}? Requests with it fail within 5 s. This cannot be undone.`, 'Revoke'))) return;
          try {
            await api(`/admin/keys/${enc(k.key_id)}`, { method: 'DELETE' });
            await loadKeys(name, shared);
          } catch (e) {
            state('keys-state', 'error', `Could not revoke ${k.key_id}: ${e.message}`);
          }
        });
        actions.append(edit, revoke);
        const expires = k.revoked_at ? `revoked ${when(k.revoked_at)}` : when(k.expires_at);
        tr.append(cell(el('code', k.key_id)), cell(k.label), cell(`${k.tier} · ${k.rpm}`), cell(when(k.created_at)), cell(when(k.last_used_at)), cell(expires), cell(money(spent.get(k.key_id) || 0), 'num'), cell(budget), cell(actions));
        if (k.revoked_at) tr.className = 'revoked';
        body.append(tr);
      }
      if (shared) state('keys-state', 'empty', `The shared test key is configured (TEST_API_KEY), not issued: spend in 30 days ${usd(spent.get('test') || 0)}.`);
      else if (!keys.data.length) state('keys-state', 'empty', 'No keys.');
      else done('keys-state');
    } catch (e) {
      state('keys-state', 'error', `Could not load the keys: ${e.message}`);
    }
  }

  let editing = null;
  function editBudget(k) {
    editing = k;
    $('budget-key').textContent = k.label ? `${k.key_id} (${k.label})` : k.key_id;
    $('budget-amount').value = k.budget_micro === null ? '' : usd(k.budget_micro).replace(/[$,]/g, '');
    $('budget-period').value = k.budget_period || 'month';
    $('budget-error').textContent = '';
    $('budget-dialog').showModal();
  }
  $('budget-cancel').addEventListener('click', () => $('budget-dialog').close('cancel'));
  $('budget-form').addEventListener('submit', async (ev) => {
    if (ev.submitter?.value !== 'ok') return;
    ev.preventDefault();
    const text = $('budget-amount').value.trim();
    const amount = text === '' ? null : micro(text);
    if (text !== '' && amount === null) {
      $('budget-error').textContent = 'Give dollars with at most 6 decimals (e.g. 25 or 0.5), or leave it empty for no budget.';
      return;
    }
    try {
      await api(`/admin/keys/${enc(editing.key_id)}`, { method: 'PATCH', body: JSON.stringify(amount === null ? { budget_micro: null } : { budget_micro: amount, budget_period: $('budget-period').value }) });
      $('budget-dialog').close('ok');
      await loadKeys(current, false);
    } catch (e) {
      $('budget-error').textContent = e.message;
    }
  });

  async function loadWebhook(name, shared) {
    const p = $('webhook-current');
    p.textContent = '';
    if (shared) {
      state('webhook-state', 'empty', 'The shared test account has no webhooks.');
      return;
    }
    state('webhook-state', 'loading');
    try {
      const w = await api(`${a(name)}/webhook`);
      if (name !== current) return;
      $('webhook-rotate').disabled = $('webhook-remove').disabled = !w.url;
      if (!w.url) {
        state('webhook-state', 'empty', 'No endpoint set: finished videos are not announced.');
        return;
      }
      p.append('Endpoint ', el('code', w.url, { id: 'webhook-endpoint' }), ` · set ${when(w.created_at)}`);
      const last = w.last_delivery;
      p.append(el('br'), last ? `Last delivery: ${last.event_type} attempt ${last.attempt} → ${last.status ?? 'no answer'} at ${when(last.at)}` : 'No delivery yet.');
      if (last) p.dataset.lastStatus = String(last.status);
      done('webhook-state');
    } catch (e) {
      state('webhook-state', 'error', `Could not load the webhook: ${e.message}`);
    }
  }
  async function putWebhook(url) {
    const r = await api(`${a(current)}/webhook`, { method: 'PUT', body: JSON.stringify({ url }) });
    $('webhook-secret').textContent = r.secret;
    $('webhook-secret-box').hidden = false;
    $('copied').textContent = '';
    await loadWebhook(current, false);
  }
  const guard = (errId, fn) => async (ev) => {
    ev?.preventDefault();
    $(errId).textContent = '';
    try {
      await fn();
    } catch (e) {
      $(errId).textContent = e.message;
    }
  };
  $('webhook-form').addEventListener('submit', guard('webhook-error', () => putWebhook($('webhook-url').value)));
  $('webhook-rotate').addEventListener('click', guard('webhook-error', async () => {
    const url = $('webhook-endpoint')?.textContent;
    if (!url || !(await confirmDialog('Rotate the signing secret? The old one stops verifying at once: the customer must switch to the new one.', 'Rotate'))) return;
    await putWebhook(url);
  }));
  $('webhook-remove').addEventListener('click', guard('webhook-error', async () => {
    if (!(await confirmDialog("Remove this account's webhook endpoint? Finished videos are no longer announced.", 'Remove'))) return;
    await api(`${a(current)}/webhook`, { method: 'DELETE' });
    $('webhook-secret-box').hidden = true;
    await loadWebhook(current, false);
  }));
  document.addEventListener('click', async (ev) => {
    const b = ev.target.closest?.('button.copy');
    if (!b) return;
    const text = $(b.dataset.copy).textContent;
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = 'Copied';
    } catch {
      const r = document.createRange();
      r.selectNodeContents($(b.dataset.copy));
      getSelection().removeAllRanges();
      getSelection().addRange(r);
      b.textContent = 'Selected: press Ctrl+C';
    }
  });

  async function loadUsage(name) {
    state('usage-state', 'loading');
    const { from, to } = range();
    const body = $('usage').tBodies[0];
    body.textContent = '';
    try {
      const q = `account=${enc(name)}&from=${from}&to=${to}`;
      const [days, models, usage] = await Promise.all([api(`/admin/stats?group=day&${q}`), api(`/admin/stats?group=model&${q}`), api(`${a(name)}/usage?from=${from}&to=${to}`)]);
      if (name !== current) return;
      dayChart($('acct-day'), days.data, to);
      modelChart($('acct-model'), models.data);
      for (const u of usage.data.slice(-50).reverse()) {
        body.append(el('tr'));
        body.lastChild.append(cell(when(u.at)), cell(u.type), cell(u.model), cell(u.units, 'num'), cell(money(u.cost_micro), 'num'), cell(u.key_id), cell(u.request_id));
      }
      if (!usage.data.length) state('usage-state', 'empty', 'No usage in the last 30 days.');
      else done('usage-state');
    } catch (e) {
      state('usage-state', 'error', `Could not load the usage: ${e.message}`);
    }
  }
  $('csv').addEventListener('click', guard('detail-error', async () => {
    const { from, to } = range();
    const blob = await api(`${a(current)}/usage?from=${from}&to=${to}`, { headers: { accept: 'text/csv' } });
    const link = el('a', undefined, { href: URL.createObjectURL(blob), download: `usage-${current}-${from}-${to}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }));

  const dateSec = (v, end) => (v ? Math.floor(Date.parse(`${v}T00:00:00Z`) / 1000) + (end ? DAY - 1 : 0) : null);
  const what = (d) =>
    Object.entries(d)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => (k.endsWith('_micro') && typeof v === 'number' ? `${k.slice(0, -6)}=${usd(v)}` : `${k}=${v}`))
      .join(' ');
  async function loadAudit(name) {
    state('audit-state', 'loading');
    const body = $('audit').tBodies[0];
    body.textContent = '';
    const { from, to } = range();
    const f = dateSec($('audit-from').value, false) ?? from;
    const t = dateSec($('audit-to').value, true) ?? to;
    const q = new URLSearchParams({ from: String(f), to: String(Math.max(f, t)) });
    if ($('audit-type').value) q.set('type', $('audit-type').value);
    if ($('audit-actor').value.trim()) q.set('actor', $('audit-actor').value.trim());
    try {
      const text = await api(`${a(name)}/audit?${q}`);
      if (name !== current) return;
      const events = String(text).split('\n').filter(Boolean).map((l) => JSON.parse(l));
      for (const e of events.slice(-200).reverse()) {
        const tr = el('tr', undefined, { 'data-type': e.type });
        tr.append(cell(when(e.at)), cell(e.type), cell(e.actor), cell(what(e.detail)), cell(e.request_id));
        body.append(tr);
      }
      if (!events.length) state('audit-state', 'empty', 'No events match.');
      else state('audit-state', 'ready', events.length > 200 ? `the newest 200 of ${events.length}` : `${events.length} events, newest first`);
    } catch (e) {
      state('audit-state', 'error', `Could not load the audit trail: ${e.message}`);
    }
  }
  $('audit-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (current) loadAudit(current);
  });

  // ---- sign in, issue, money ----
  $('signin-form').addEventListener('submit', guard('signin-error', async () => {
    token = $('token').value;
    $('token').value = '';
    try {
      await api('/admin/accounts?limit=1');
    } catch (e) {
      token = null;
      throw e;
    }
    $('signin').hidden = true;
    $('app').hidden = false;
    $('signout').hidden = false;
    await Promise.all([loadAccounts(), loadOverview()]);
  }));
  $('signout').addEventListener('click', () => location.reload());
  for (const id of ['acct-search', 'acct-filter', 'acct-sort']) $(id).addEventListener('input', renderAccounts);
  $('issue-form').addEventListener('submit', guard('issue-error', async () => {
    const credits = micro($('issue-credits').value || '0');
    if (credits === null) throw new Error('Credits: give dollars with at most 6 decimals');
    const body = { tier: $('issue-tier').value, account: $('issue-account').value, credits_micro: credits, rpm: Number($('issue-rpm').value) };
    if ($('issue-label').value) body.label = $('issue-label').value;
    if ($('issue-expires').value) body.expires_at = Math.floor(new Date($('issue-expires').value).getTime() / 1000);
    if ($('issue-budget').value.trim()) {
      const b = micro($('issue-budget').value);
      if (b === null) throw new Error('Budget: give dollars with at most 6 decimals');
      Object.assign(body, { budget_micro: b, budget_period: $('issue-period').value });
    }
    const k = await api('/admin/keys', { method: 'POST', body: JSON.stringify(body) });
    $('issued').hidden = false;
    $('issued-key').textContent = k.key;
    await loadAccounts();
    await showAccount(k.account);
  }));
  const refresh = async () => {
    await Promise.all([loadMoney(current, false), loadUsage(current), loadAudit(current), loadAccounts(), loadOverview()]);
  };
  $('topup-form').addEventListener('submit', guard('detail-error', async () => {
    const amount = micro($('topup-amount').value);
    if (amount === null || amount <= 0) throw new Error('Top up: give a positive amount in dollars, at most 6 decimals');
    await api(`${a(current)}/credits`, { method: 'POST', body: JSON.stringify({ amount_micro: amount }) });
    $('topup-amount').value = '';
    await refresh();
  }));
  $('adjust-form').addEventListener('submit', guard('detail-error', async () => {
    const amount = micro($('adjust-amount').value, true);
    if (amount === null || amount === 0) throw new Error('Adjust: give a signed amount in dollars, at most 6 decimals');
    await api(`${a(current)}/adjustments`, { method: 'POST', body: JSON.stringify({ amount_micro: amount, reason: $('adjust-reason').value }) });
    $('adjust-amount').value = '';
    await refresh();
  }));
})();

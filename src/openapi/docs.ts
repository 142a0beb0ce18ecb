// GET /docs: the API document rendered by a small script of our own (/docs.js) — no CDN, no framework, a strict
// CSP, and only textContent (nothing from the document is ever parsed as HTML).
export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>phi-gateway API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2433;background:#f7f8fa}
header{background:#1d2433;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
main{max-width:980px;margin:0 auto;padding:16px 24px}
nav a{display:block;color:#1d4ed8;text-decoration:none;font:13px ui-monospace,monospace}
section.op{background:#fff;border:1px solid #dde1e8;border-radius:8px;margin:14px 0;padding:12px 16px}
.m{display:inline-block;min-width:58px;font:bold 12px ui-monospace,monospace;padding:2px 6px;border-radius:4px;color:#fff;background:#475569;text-align:center}
.GET{background:#2563eb}.POST{background:#16a34a}.DELETE{background:#dc2626}.PUT{background:#d97706}
code,pre{font:12.5px ui-monospace,monospace}pre{background:#f1f3f6;padding:8px;border-radius:6px;overflow:auto;max-height:320px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;border-bottom:1px solid #eef0f3;padding:4px 6px;vertical-align:top}
</style></head>
<body><header><h1>phi-gateway API</h1><div id="info"></div></header>
<main><p>The machine-readable document: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p><nav id="toc"></nav><div id="ops">Loading…</div></main>
<script src="/docs.js"></script></body></html>`;

export const DOCS_JS = `(async () => {
  const el = (tag, props = {}, ...kids) => { const e = document.createElement(tag); Object.assign(e, props); for (const k of kids) e.append(k); return e; };
  const doc = await (await fetch('/openapi.json')).json();
  document.getElementById('info').textContent = doc.info.title + ' ' + doc.info.version + ' — ' + (doc.info.description || '');
  const resolve = (s) => (s && s.$ref ? s.$ref.split('/').reduce((o, k) => (k === '#' ? doc : o[k]), null) : s);
  const ops = document.getElementById('ops');
  const toc = document.getElementById('toc');
  ops.textContent = '';
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const id = (method + path).replace(/[^a-z0-9]+/gi, '-');
      toc.append(el('a', { href: '#' + id, textContent: method.toUpperCase() + ' ' + path }));
      const sec = el('section', { className: 'op', id });
      sec.dataset.method = method.toUpperCase();
      sec.dataset.path = path;
      sec.append(el('h3', {}, el('span', { className: 'm ' + method.toUpperCase(), textContent: method.toUpperCase() }), ' ', el('code', { textContent: path })));
      sec.append(el('p', { textContent: op.summary || '' }));
      const auth = op.security === undefined ? doc.security : op.security;
      sec.append(el('p', { textContent: 'Auth: ' + (auth.length ? auth.map((a) => Object.keys(a)[0]).join(', ') : 'none') }));
      if (op.parameters && op.parameters.length) {
        const t = el('table', {}, el('tr', {}, el('th', { textContent: 'parameter' }), el('th', { textContent: 'in' }), el('th', { textContent: 'schema' })));
        for (const p of op.parameters) t.append(el('tr', {}, el('td', { textContent: p.name + (p.required ? ' *' : '') }), el('td', { textContent: p.in }), el('td', {}, el('code', { textContent: JSON.stringify(p.schema) }))));
        sec.append(t);
      }
      if (op.requestBody) {
        for (const [type, media] of Object.entries(op.requestBody.content)) {
          sec.append(el('p', { textContent: 'Body (' + type + ')' }), el('pre', { textContent: JSON.stringify(resolve(media.schema), null, 2) }));
        }
      }
      const r = el('table', {}, el('tr', {}, el('th', { textContent: 'status' }), el('th', { textContent: 'meaning' })));
      for (const [status, resp] of Object.entries(op.responses)) r.append(el('tr', {}, el('td', { textContent: status }), el('td', { textContent: resolve(resp).description })));
      sec.append(r);
      ops.append(sec);
    }
  }
  document.body.dataset.ready = 'true';
})();`;

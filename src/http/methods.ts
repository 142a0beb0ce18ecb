// 405 for a known path asked with the wrong method, naming the methods it has (`allow`). The known paths are the
// app's own registered routes, so this can never drift from what the gateway serves.
import type { Hono } from 'hono';
import { ApiError } from './errors';

type Routes = Pick<Hono, 'routes'>['routes'];

const compiled = new WeakMap<Routes, { re: RegExp; methods: Set<string> }[]>();

function table(routes: Routes) {
  let t = compiled.get(routes);
  if (!t) {
    const byPath = new Map<string, Set<string>>();
    for (const r of routes) {
      if (r.method === 'ALL' || r.path.includes('*')) continue; // middleware
      const methods = byPath.get(r.path) ?? new Set<string>();
      methods.add(r.method);
      if (r.method === 'GET') methods.add('HEAD');
      byPath.set(r.path, methods);
    }
    t = [...byPath].map(([path, methods]) => ({
      re: new RegExp(`^${path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\/:[A-Za-z0-9_]+/g, '/[^/]+')}/?$`),
      methods,
    }));
    compiled.set(routes, t);
  }
  return t;
}

/** The 405 for `method path`, or null when no route has that path (a plain 404). */
export function methodNotAllowed(routes: Routes, method: string, path: string): ApiError | null {
  const allowed = new Set<string>();
  for (const { re, methods } of table(routes)) if (re.test(path)) for (const m of methods) allowed.add(m);
  if (!allowed.size || allowed.has(method)) return null;
  const allow = [...allowed].sort().join(', ');
  return new ApiError(405, 'method_not_allowed', `${method} is not allowed here; this route accepts ${allow}`, null, { allow });
}

// A minimal client for the Upstash Redis REST API: one JSON command array per POST, `{result}` or `{error}` back.
// Scripts run by EVALSHA with one EVAL fallback on NOSCRIPT. Every call has a deadline (an AbortSignal), is never
// retried here (money operations decide their own retries), and fails with an error that quotes nothing of the
// command (a stored response can be inside one).

export class StoreError extends Error {
  constructor(readonly kind: 'timeout' | 'unreachable' | 'rejected') {
    super(`store ${kind}`);
  }
}

export type Arg = string | number;

const enc = new TextEncoder();

async function sha1Hex(text: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-1', enc.encode(text)));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export class RestRedis {
  private readonly shas = new Map<string, Promise<string>>();

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly timeoutMs: number,
  ) {}

  private async post(path: string, body: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new StoreError(err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError') ? 'timeout' : 'unreachable');
    }
    let out: unknown;
    try {
      out = await res.json();
    } catch {
      throw new StoreError(res.ok ? 'unreachable' : 'rejected');
    }
    return out;
  }

  /** One command; a Redis error reply is a rejected StoreError (NOSCRIPT is reported as such). */
  async cmd(...args: Arg[]): Promise<unknown> {
    const out = (await this.post('', args)) as { result?: unknown; error?: unknown } | null;
    if (out && typeof out === 'object' && 'error' in out) {
      throw typeof out.error === 'string' && out.error.startsWith('NOSCRIPT') ? new NoScript() : new StoreError('rejected');
    }
    if (!out || typeof out !== 'object' || !('result' in out)) throw new StoreError('unreachable');
    return out.result;
  }

  /** Several commands in one round trip (not atomic); each result or a rejected StoreError for the whole call. */
  async pipeline(cmds: Arg[][]): Promise<unknown[]> {
    const out = await this.post('/pipeline', cmds);
    if (!Array.isArray(out) || out.length !== cmds.length) throw new StoreError('unreachable');
    return out.map((r: { result?: unknown; error?: unknown }) => {
      if (r && typeof r === 'object' && 'error' in r) throw new StoreError('rejected');
      return r?.result;
    });
  }

  /** Several commands as one MULTI/EXEC transaction. */
  async transaction(cmds: Arg[][]): Promise<unknown[]> {
    const out = await this.post('/multi-exec', cmds);
    if (!Array.isArray(out)) throw new StoreError('rejected');
    return out.map((r: { result?: unknown; error?: unknown }) => {
      if (r && typeof r === 'object' && 'error' in r) throw new StoreError('rejected');
      return r?.result;
    });
  }

  /** Runs a Lua script (cached by SHA-1 on the server; loaded with EVAL when the server does not know it yet). */
  async script(source: string, keys: Arg[], args: Arg[]): Promise<unknown> {
    let sha = this.shas.get(source);
    if (!sha) {
      sha = sha1Hex(source);
      this.shas.set(source, sha);
    }
    try {
      return await this.cmd('evalsha', await sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof NoScript)) throw err;
      return this.cmd('eval', source, keys.length, ...keys, ...args);
    }
  }
}

class NoScript extends StoreError {
  constructor() {
    super('rejected');
  }
}

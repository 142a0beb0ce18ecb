// The self-hosted ComfyUI worker (free test tier), on ComfyUI's native API: upload inputs, POST /prompt with a
// filled workflow template, watch /history/{id}, read outputs through /view. Auth in front of the worker is a
// bearer token or AWS SigV4 (aws4fetch). Worker URLs never leave this module: outputs are private Assets.
// Everything the worker returns is validated (its reply shapes, outputs and failures: worker-replies.ts); its own
// error text is never passed on.
import { chain } from '../http/json-stream';
import { AwsClient } from 'aws4fetch';
import type { Config } from '../config';
import type { Route } from '../catalog/resolve';
import { ApiError, providerUnavailable, upstreamError, upstreamTimeout } from '../http/errors';
import { fetchInput, type InputKind, type LoadedInput } from '../media/inputs';
import { Breaker, workerBreakerKey } from './breaker';
import { breakerSettings } from './fal';
import { remaining, retrying, settle, UpstreamError } from './retry';
import type { Asset, ImageRequest, ImageResult, ImageRunOptions, InputFile, Provider, RunOptions, VideoRequest, VideoState } from './types';
import { expectShape, readJsonBody, sleep, upstreamFetch } from './upstream';
import { collect, failed, historyReply, promptReply, queuePosition, queueReply, uploadReply, workerError, type HistoryEntry } from './worker-replies';
import { WORKFLOWS, type WorkflowInputs } from './workflows';

export { queuePosition } from './worker-replies';

const POLL_MS = 250;
/** retry-after of a refusal for a full worker queue (WORKER_MAX_QUEUE). */
export const WORKER_BUSY_RETRY_AFTER_SEC = 10;

/**
 * A submit's failure that said the worker is down (no answer, 5xx, our timeout) may be retried whatever its kind:
 * the next attempt first asks the worker whether it has the prompt.
 */
const asRetryable = (err: unknown): never => {
  if (err instanceof UpstreamError && err.health === 'down' && !err.retryable) throw new UpstreamError(err, true, 'down', err.retryAfterMs);
  throw err;
};
const randomSeed = () => crypto.getRandomValues(new Uint32Array(1))[0]! % 2 ** 31;

export class WorkerProvider implements Provider {
  private readonly base: string;
  private readonly signer: AwsClient | null;

  constructor(
    private readonly cfg: Config,
    private readonly timeoutMs: number,
  ) {
    if (!cfg.workerBase) throw providerUnavailable('The free test tier is not available: no worker is configured');
    this.base = cfg.workerBase;
    const a = cfg.workerAuth;
    // retries: 0 — aws4fetch would otherwise retry failed calls (POST /prompt included) ten times on its own.
    this.signer =
      a?.kind === 'sigv4' ? new AwsClient({ accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey, region: a.region, service: a.service, retries: 0 }) : null;
  }

  private async fetch(path: string, init: RequestInit = {}, timeoutMs = this.timeoutMs): Promise<Response> {
    const url = `${this.base}${path}`;
    const auth = this.cfg.workerAuth;
    const headers = new Headers(init.headers);
    if (auth?.kind === 'bearer') headers.set('authorization', `Bearer ${auth.token}`);
    const doFetch = this.signer ? (this.signer.fetch.bind(this.signer) as typeof fetch) : fetch;
    return upstreamFetch(url, { ...init, headers }, Math.min(this.timeoutMs, timeoutMs), doFetch);
  }

  private async json(path: string, init?: RequestInit, timeoutMs = this.timeoutMs): Promise<unknown> {
    const deadline = Date.now() + Math.min(this.timeoutMs, timeoutMs);
    const res = await this.fetch(path, init, timeoutMs);
    if (!res.ok) throw await workerError(res);
    return readJsonBody(res, deadline);
  }

  private async queuePrompt(workflow: string, inputs: WorkflowInputs, promptId: string = crypto.randomUUID(), timeoutMs = this.timeoutMs): Promise<string> {
    const build = WORKFLOWS[workflow];
    if (!build) throw upstreamError('No workflow template for this model');
    const body = { prompt: build(inputs), client_id: 'phi-gateway', prompt_id: promptId };
    const out = expectShape(
      promptReply,
      await this.json('/prompt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, timeoutMs),
    );
    return out.prompt_id ?? body.prompt_id;
  }

  private async history(promptId: string, timeoutMs = this.timeoutMs): Promise<HistoryEntry | null> {
    const h = expectShape(historyReply, await this.json(`/history/${encodeURIComponent(promptId)}`, undefined, timeoutMs));
    return h[promptId] ?? null;
  }

  /** Whether the worker already has this prompt (queued, running or finished): a repeated submit must not queue it twice. */
  private async known(promptId: string, timeoutMs: number): Promise<boolean> {
    if (await this.history(promptId, timeoutMs)) return true;
    const q = expectShape(queueReply, await this.json('/queue', undefined, timeoutMs));
    return [...q.queue_running, ...(q.queue_pending ?? [])].some((item) => Array.isArray(item) && item[1] === promptId);
  }

  /** Back-pressure: with WORKER_MAX_QUEUE set, a worker with that many prompts queued or running is not given more. */
  private async admitQueue(timeoutMs: number): Promise<void> {
    const max = this.cfg.WORKER_MAX_QUEUE;
    if (!max) return;
    const q = expectShape(queueReply, await this.json('/queue', undefined, timeoutMs));
    const depth = q.queue_running.length + (q.queue_pending?.length ?? 0);
    if (depth >= max) {
      const busy = new ApiError(503, 'provider_unavailable', 'The test worker is busy; retry shortly', null, { 'retry-after': String(WORKER_BUSY_RETRY_AFTER_SEC) });
      throw new UpstreamError(busy, false, 'up');
    }
  }

  /**
   * The free tier's images, retried inside the worker's breaker. The prompt id is the gateway's own, so a submit is
   * repeated only after asking the worker whether it already has that id (history, queue): a lost answer is
   * recovered, never queued twice. Uploads go under one fresh name with overwrite, so repeating one is harmless.
   */
  async generateImages(route: Route, req: ImageRequest, opts: ImageRunOptions): Promise<ImageResult> {
    // One input image at most (the gateway refuses more for this tier before anything is charged or sent).
    if (req.images.length > 1 || req.width === undefined || req.height === undefined) throw upstreamError('The worker takes one input image and an explicit size');
    const { budget } = opts;
    const breaker = new Breaker(workerBreakerKey(this.base), breakerSettings(this.cfg), opts.exec);
    const ticket = breaker.enter();
    try {
      const file = req.images[0];
      const name = file && `phi_${crypto.randomUUID()}.${file.ext}`;
      const image = file && name ? await retrying(budget, { count: false }, (left) => this.put(file, name, left)) : undefined;
      const inputs: WorkflowInputs = {
        prompt: req.prompt,
        seed: req.seed ?? randomSeed(),
        width: req.width,
        height: req.height,
        batch: req.n,
        steps: req.steps,
        denoise: req.strength,
        image,
      };
      let id: string = crypto.randomUUID();
      let sent = false;
      await retrying(budget, {}, async (left) => {
        if (sent && (await this.known(id, left).catch(asRetryable))) return;
        if (!sent) await this.admitQueue(left);
        sent = true;
        id = await this.queuePrompt(route.endpoint, inputs, id, left).catch(asRetryable);
      });
      const result = await this.await(id, req.n, budget);
      breaker.success(ticket);
      return result;
    } catch (err) {
      settle(breaker, ticket, err);
      throw err;
    } finally {
      breaker.release(ticket);
    }
  }

  /** Polls the prompt's history until it is done or the deadline passes (a failed poll is tried again meanwhile). */
  private async await(id: string, n: number, budget: ImageRunOptions['budget']): Promise<ImageResult> {
    for (;;) {
      let entry: HistoryEntry | null = null;
      try {
        entry = await this.history(id, remaining(budget));
      } catch (err) {
        if (!(err instanceof UpstreamError && err.health === 'down') || remaining(budget) < POLL_MS) throw err; // a GET: safe to send again
      }
      if (entry) {
        if (failed(entry)) throw upstreamError('The worker failed to generate the images');
        const assets = collect(entry, 'image').slice(0, n);
        if (!assets.length) throw upstreamError('The worker produced no images');
        return { assets };
      }
      if (remaining(budget) <= POLL_MS) {
        await this.fetch('/interrupt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt_id: id }) }).catch(() => {});
        throw new UpstreamError(upstreamTimeout('The worker did not finish in time'), false, 'down');
      }
      await sleep(POLL_MS);
    }
  }

  async submitVideo(route: Route, req: VideoRequest, opts: RunOptions): Promise<string> {
    const [image, audio] = await Promise.all([this.upload(req.image, 'image', opts), this.upload(req.audio, 'audio', opts)]);
    return this.queuePrompt(route.endpoint, {
      prompt: req.prompt,
      seed: req.seed ?? randomSeed(),
      width: req.width,
      height: req.height,
      frames: req.frames,
      fps: req.fps,
      image,
      audio,
    });
  }

  async videoStatus(_workflow: string, promptId: string): Promise<VideoState> {
    const entry = await this.history(promptId);
    if (!entry) {
      const q = expectShape(queueReply, await this.json('/queue'));
      if (q.queue_running.some((item) => item[1] === promptId)) return { status: 'in_progress' };
      return { status: 'queued', ...queuePosition(q.queue_pending ?? [], promptId) };
    }
    if (failed(entry)) return { status: 'failed', code: 'generation_failed', message: 'The worker failed to generate the video' };
    const asset = collect(entry, 'video')[0];
    if (!asset) return { status: 'failed', code: 'generation_failed', message: 'The worker produced no video' };
    return { status: 'completed', asset };
  }

  async cancel(_workflow: string, promptId: string): Promise<void> {
    const res = await this.fetch('/interrupt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt_id: promptId }) });
    await res.body?.cancel();
  }

  open(asset: Asset, range?: string | null): Promise<Response> {
    if (asset.kind !== 'worker') throw upstreamError('Not a worker file');
    const q = new URLSearchParams({ filename: asset.filename, subfolder: asset.subfolder, type: asset.type });
    return this.fetch(`/view?${q}`, { headers: range ? { range } : {} });
  }

  /** Puts an input on the worker (ComfyUI loads inputs by name); URLs are fetched under the customer-URL rules. */
  private async upload(input: InputFile | undefined, kind: InputKind, opts: RunOptions): Promise<string | undefined> {
    if (!input) return undefined;
    const file = 'url' in input ? await fetchInput(input.url, kind, input.field, opts.urlRules, this.timeoutMs) : input.loaded;
    return this.put(file, `phi_${crypto.randomUUID()}.${file.ext}`);
  }

  /** Uploads bytes with /upload/image under `name` (overwriting: sent twice it is the same file); returns the name a workflow loads them by. */
  private async put(file: LoadedInput, name: string, timeoutMs = this.timeoutMs): Promise<string> {
    const form = multipart({ type: 'input', overwrite: 'true' }, 'image', name, file);
    const headers: Record<string, string> = { 'content-type': form.type, 'content-length': String(form.length) };
    // SigV4 signs a hash of the body: compute it over one pass of the stream, then send a second pass.
    if (this.signer) headers['x-amz-content-sha256'] = await sha256Hex(form.stream());
    const out = expectShape(uploadReply, await this.json('/upload/image', { method: 'POST', headers, body: fixed(form.stream(), form.length) }, timeoutMs));
    return out.subfolder ? `${out.subfolder}/${out.name}` : out.name;
  }
}

/** A multipart/form-data body with some text fields and one file, streamed from its parts (no copy of the file). */
function multipart(fields: Record<string, string>, name: string, filename: string, file: LoadedInput) {
  const boundary = `----phi${crypto.randomUUID().replace(/-/g, '')}`;
  const enc = new TextEncoder();
  const head = enc.encode(
    Object.entries(fields)
      .map(([k, v]) => `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join('') + `--${boundary}\r\ncontent-disposition: form-data; name="${name}"; filename="${filename}"\r\ncontent-type: ${file.type}\r\n\r\n`,
  );
  const tail = enc.encode(`\r\n--${boundary}--\r\n`);
  const size = file.bytes instanceof Blob ? file.bytes.size : file.bytes.byteLength;
  return {
    type: `multipart/form-data; boundary=${boundary}`,
    length: head.byteLength + size + tail.byteLength,
    stream: () => chain([head, file.bytes, tail]),
  };
}

function fixed(stream: ReadableStream<Uint8Array>, length: number): ReadableStream<Uint8Array> {
  const f = new FixedLengthStream(length);
  void stream.pipeTo(f.writable).catch(() => {});
  return f.readable;
}

async function sha256Hex(stream: ReadableStream<Uint8Array>): Promise<string> {
  const digest = new crypto.DigestStream('SHA-256');
  await stream.pipeTo(digest);
  return [...new Uint8Array(await digest.digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

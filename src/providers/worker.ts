// The self-hosted ComfyUI worker (free test tier), on ComfyUI's native API: upload inputs, POST /prompt with a
// filled workflow template, watch /history/{id}, read outputs through /view. Auth in front of the worker is a
// bearer token or AWS SigV4 (aws4fetch). Worker URLs never leave this module: outputs are private Assets.
// Everything the worker returns is validated here; its own error text is never passed on.
import { AwsClient } from 'aws4fetch';
import * as z from 'zod/mini';
import type { Config } from '../config';
import type { Route } from '../catalog/resolve';
import { providerUnavailable, upstreamError, upstreamTimeout } from '../http/errors';
import { fetchInput, type InputKind, type LoadedInput } from '../media/inputs';
import type { Asset, ImageRequest, ImageResult, InputFile, Provider, RunOptions, VideoRequest, VideoState } from './types';
import { expectShape, readJsonBody, sleep, upstreamFetch } from './upstream';
import { WORKFLOWS, type WorkflowInputs } from './workflows';

// What ComfyUI returns (server.py / execution.py), validated at the boundary.
const safeName = z.string().check(
  z.minLength(1),
  z.maxLength(255),
  z.refine((s) => !s.includes('..') && !/^[/\\]|^[a-z]:/i.test(s), 'unsafe path'),
);
const fileRef = z.object({
  filename: safeName,
  subfolder: z.optional(z.union([z.literal(''), safeName])),
  type: z.optional(z.enum(['output', 'temp'])),
  format: z.optional(z.string()),
});
const historyEntry = z.object({
  outputs: z.optional(
    z.record(z.string(), z.object({ images: z.optional(z.array(fileRef)), gifs: z.optional(z.array(fileRef)), animated: z.optional(z.array(z.boolean())) })),
  ),
  status: z.optional(z.object({ status_str: z.optional(z.string()), messages: z.optional(z.array(z.tuple([z.string(), z.unknown()]))) })),
});
const historyReply = z.record(z.string(), historyEntry);
const queueReply = z.object({ queue_running: z.array(z.array(z.unknown())), queue_pending: z.optional(z.array(z.unknown())) });
const promptReply = z.object({ prompt_id: z.optional(z.string()) });
const uploadReply = z.object({ name: safeName, subfolder: z.optional(z.union([z.literal(''), safeName])) });

type HistoryEntry = z.infer<typeof historyEntry>;
type FileRef = z.infer<typeof fileRef>;

const POLL_MS = 250;
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

  private async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const url = `${this.base}${path}`;
    const auth = this.cfg.workerAuth;
    const headers = new Headers(init.headers);
    if (auth?.kind === 'bearer') headers.set('authorization', `Bearer ${auth.token}`);
    const doFetch = this.signer ? (this.signer.fetch.bind(this.signer) as typeof fetch) : fetch;
    return upstreamFetch(url, { ...init, headers }, this.timeoutMs, doFetch);
  }

  private async json(path: string, init?: RequestInit): Promise<unknown> {
    const deadline = Date.now() + this.timeoutMs;
    const res = await this.fetch(path, init);
    if (!res.ok) throw await workerError(res);
    return readJsonBody(res, deadline);
  }

  private async queuePrompt(workflow: string, inputs: WorkflowInputs): Promise<string> {
    const build = WORKFLOWS[workflow];
    if (!build) throw upstreamError('No workflow template for this model');
    const body = { prompt: build(inputs), client_id: 'phi-gateway', prompt_id: crypto.randomUUID() };
    const out = expectShape(
      promptReply,
      await this.json('/prompt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    );
    return out.prompt_id ?? body.prompt_id;
  }

  private async history(promptId: string): Promise<HistoryEntry | null> {
    const h = expectShape(historyReply, await this.json(`/history/${encodeURIComponent(promptId)}`));
    return h[promptId] ?? null;
  }

  async generateImages(route: Route, req: ImageRequest): Promise<ImageResult> {
    // One input image at most (the gateway refuses more for this tier before anything is charged or sent).
    if (req.images.length > 1 || req.width === undefined || req.height === undefined) throw upstreamError('The worker takes one input image and an explicit size');
    const image = req.images[0] ? await this.put(req.images[0]) : undefined;
    const id = await this.queuePrompt(route.endpoint, {
      prompt: req.prompt,
      seed: req.seed ?? randomSeed(),
      width: req.width,
      height: req.height,
      batch: req.n,
      steps: req.steps,
      denoise: req.strength,
      image,
    });
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const entry = await this.history(id);
      if (entry) {
        if (failed(entry)) throw upstreamError('The worker failed to generate the images');
        const assets = collect(entry, 'image').slice(0, req.n);
        if (!assets.length) throw upstreamError('The worker produced no images');
        return { assets };
      }
      if (Date.now() > deadline) {
        await this.fetch('/interrupt', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt_id: id }) }).catch(() => {});
        throw upstreamTimeout('The worker did not finish in time');
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
    return this.put('url' in input ? await fetchInput(input.url, kind, input.field, opts.urlRules, this.timeoutMs) : input.loaded);
  }

  /** Uploads bytes with /upload/image under a fresh name; returns the name a workflow loads them by. */
  private async put(file: LoadedInput): Promise<string> {
    const form = multipart({ type: 'input', overwrite: 'true' }, 'image', `phi_${crypto.randomUUID()}.${file.ext}`, file);
    const headers: Record<string, string> = { 'content-type': form.type, 'content-length': String(form.length) };
    // SigV4 signs a hash of the body: compute it over one pass of the stream, then send a second pass.
    if (this.signer) headers['x-amz-content-sha256'] = await sha256Hex(form.stream());
    const out = expectShape(uploadReply, await this.json('/upload/image', { method: 'POST', headers, body: fixed(form.stream(), form.length) }));
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
    stream(): ReadableStream<Uint8Array> {
      const parts = [head, file.bytes, tail];
      let i = 0;
      let inner: ReadableStreamDefaultReader<Uint8Array> | null = null;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          for (;;) {
            if (inner) {
              const { done, value } = await inner.read();
              if (!done) return controller.enqueue(value);
              inner = null;
              i++;
            }
            const part = parts[i];
            if (!part) return controller.close();
            if (part instanceof Blob) {
              inner = part.stream().getReader() as ReadableStreamDefaultReader<Uint8Array>;
              continue;
            }
            i++;
            return controller.enqueue(part);
          }
        },
      });
    },
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

const failed = (entry: HistoryEntry) => entry.status?.status_str === 'error';

/**
 * A pending prompt's place in ComfyUI's queue: items are `[number, prompt_id, …]` and run in `number` order, so the
 * position is how many pending items have a smaller number. Nothing when the prompt is not listed (or oddly shaped).
 */
export function queuePosition(pending: unknown[], promptId: string): { position?: number } {
  const items = pending.filter((i): i is [number, string, ...unknown[]] => Array.isArray(i) && typeof i[0] === 'number' && typeof i[1] === 'string');
  const mine = items.find((i) => i[1] === promptId);
  return mine ? { position: items.filter((i) => i[0] < mine[0]).length } : {};
}

/** Reads all three ComfyUI output shapes: images (SaveImage), images+animated (SaveVideo), gifs (VHS). */
function collect(entry: HistoryEntry, want: 'image' | 'video'): Asset[] {
  const out: Asset[] = [];
  for (const node of Object.values(entry.outputs ?? {})) {
    const animated = node.animated?.some(Boolean) ?? false;
    const gifs = node.gifs ?? [];
    for (const f of [...gifs, ...(node.images ?? [])]) {
      const type = contentTypeOf(f);
      const isVideo = type.startsWith('video/') || animated || gifs.includes(f);
      if ((want === 'video') !== isVideo) continue;
      out.push({ kind: 'worker', filename: f.filename, subfolder: f.subfolder ?? '', type: f.type ?? 'output', contentType: type });
    }
  }
  return out;
}

const TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', mp4: 'video/mp4', webm: 'video/webm' };

function contentTypeOf(f: FileRef): string {
  if (f.format?.startsWith('video/')) return f.format.includes('webm') ? 'video/webm' : 'video/mp4';
  return TYPES[f.filename.split('.').pop()?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}

/** The worker's failures in the gateway's words (ComfyUI's error bodies are not passed on). */
async function workerError(res: Response): Promise<Error> {
  await res.body?.cancel().catch(() => {});
  if (res.status === 400) return upstreamError('The worker rejected the workflow');
  if (res.status === 401 || res.status === 403) return upstreamError('The worker refused the gateway credentials');
  return upstreamError(`The worker failed (HTTP ${res.status})`);
}

// The self-hosted ComfyUI worker (free test tier), on ComfyUI's native API: upload inputs, POST /prompt with a
// filled workflow template, watch /history/{id}, read outputs through /view. Auth in front of the worker is a
// bearer token or AWS SigV4 (aws4fetch). Worker URLs never leave this module: outputs are private Assets.
import { AwsClient } from 'aws4fetch';
import type { Config } from '../config';
import type { Route } from '../catalog/resolve';
import { providerUnavailable, upstreamError, upstreamTimeout } from '../http/errors';
import type { Asset, ImageRequest, ImageResult, InputFile, Provider, VideoRequest, VideoState } from './types';
import { readJsonBody, sleep, upstreamFetch } from './upstream';
import { WORKFLOWS, type WorkflowInputs } from './workflows';

interface HistoryEntry {
  outputs?: Record<string, { images?: FileRef[]; gifs?: (FileRef & { format?: string })[]; animated?: boolean[] }>;
  status?: { status_str?: string; completed?: boolean; messages?: [string, Record<string, unknown>][] };
}
interface FileRef {
  filename: string;
  subfolder?: string;
  type?: string;
}

const POLL_MS = 250;
const randomSeed = () => crypto.getRandomValues(new Uint32Array(1))[0]! % 2 ** 31;

export class WorkerProvider implements Provider {
  private readonly base: string;
  private readonly signer: AwsClient | null;

  constructor(private readonly cfg: Config, private readonly timeoutMs: number) {
    if (!cfg.workerBase) throw providerUnavailable('The free test tier is not available: no worker is configured');
    this.base = cfg.workerBase;
    const a = cfg.workerAuth;
    this.signer = a?.kind === 'sigv4' ? new AwsClient({ accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey, region: a.region, service: a.service }) : null;
  }

  private async fetch(path: string, init: RequestInit = {}, timeoutMs = this.timeoutMs): Promise<Response> {
    const url = `${this.base}${path}`;
    const auth = this.cfg.workerAuth;
    const headers = new Headers(init.headers);
    if (auth?.kind === 'bearer') headers.set('authorization', `Bearer ${auth.token}`);
    const doFetch = this.signer ? (this.signer.fetch.bind(this.signer) as typeof fetch) : fetch;
    return upstreamFetch(url, { ...init, headers }, timeoutMs, doFetch);
  }

  private async json(path: string, init?: RequestInit): Promise<unknown> {
    const res = await this.fetch(path, init);
    if (!res.ok) throw await workerError(res);
    return readJsonBody(res);
  }

  private async queuePrompt(workflow: string, inputs: WorkflowInputs): Promise<string> {
    const build = WORKFLOWS[workflow];
    if (!build) throw upstreamError(`No workflow template for '${workflow}'`);
    const body = { prompt: build(inputs), client_id: 'phi-gateway', prompt_id: crypto.randomUUID() };
    const out = (await this.json('/prompt', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })) as { prompt_id?: unknown };
    return typeof out.prompt_id === 'string' ? out.prompt_id : body.prompt_id;
  }

  private async history(promptId: string): Promise<HistoryEntry | null> {
    const h = (await this.json(`/history/${encodeURIComponent(promptId)}`)) as Record<string, HistoryEntry>;
    return h[promptId] ?? null;
  }

  async generateImages(route: Route, req: ImageRequest): Promise<ImageResult> {
    const id = await this.queuePrompt(route.endpoint, {
      prompt: req.prompt,
      seed: req.seed ?? randomSeed(),
      width: req.width,
      height: req.height,
      batch: req.n,
    });
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const entry = await this.history(id);
      if (entry) {
        const failure = failed(entry);
        if (failure) throw upstreamError(failure);
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

  async submitVideo(route: Route, req: VideoRequest): Promise<string> {
    const [image, audio] = await Promise.all([this.upload(req.image, 'image'), this.upload(req.audio, 'audio')]);
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
      const q = (await this.json('/queue')) as { queue_running?: unknown[][] };
      const running = (q.queue_running ?? []).some((item) => item[1] === promptId);
      return running ? { status: 'in_progress', progress: 50 } : { status: 'queued', progress: 0 };
    }
    const failure = failed(entry);
    if (failure) return { status: 'failed', code: 'generation_failed', message: failure };
    const asset = collect(entry, 'video')[0];
    if (!asset) return { status: 'failed', code: 'generation_failed', message: 'The worker produced no video' };
    return { status: 'completed', asset };
  }

  open(asset: Asset, range?: string | null): Promise<Response> {
    if (asset.kind !== 'worker') throw upstreamError('Not a worker file');
    const q = new URLSearchParams({ filename: asset.filename, subfolder: asset.subfolder, type: asset.type });
    return this.fetch(`/view?${q}`, { headers: range ? { range } : {} });
  }

  /** Puts an input on the worker (ComfyUI loads inputs by name); URL inputs are fetched by the gateway first. */
  private async upload(input: InputFile | undefined, what: string): Promise<string | undefined> {
    if (!input) return undefined;
    let file: File;
    if ('file' in input) {
      file = input.file;
    } else {
      const res = await upstreamFetch(input.url, {}, this.timeoutMs);
      if (!res.ok) throw upstreamError(`The ${what} URL could not be fetched (HTTP ${res.status})`);
      const type = res.headers.get('content-type') ?? 'application/octet-stream';
      file = new File([await res.arrayBuffer()], `${what}.${extFor(type)}`, { type });
    }
    const form = new FormData();
    const name = `phi_${crypto.randomUUID()}.${extFor(file.type) || file.name.split('.').pop() || 'bin'}`;
    form.append('image', new File([file], name, { type: file.type }));
    form.append('type', 'input');
    form.append('overwrite', 'true');
    // Serialise the multipart body so SigV4 can hash it.
    const encoded = new Request('http://form.local', { method: 'POST', body: form });
    const out = (await this.json('/upload/image', {
      method: 'POST',
      headers: { 'content-type': encoded.headers.get('content-type')! },
      body: await encoded.arrayBuffer(),
    })) as { name?: string; subfolder?: string };
    if (!out.name) throw upstreamError('The worker did not accept the upload');
    return out.subfolder ? `${out.subfolder}/${out.name}` : out.name;
  }
}

function failed(entry: HistoryEntry): string | null {
  if (entry.status?.status_str !== 'error') return null;
  const err = entry.status.messages?.find(([event]) => event === 'execution_error' || event === 'execution_interrupted');
  const type = err?.[0] === 'execution_interrupted' ? 'interrupted' : String(err?.[1]?.exception_type ?? 'error');
  return `The worker failed to generate (${type})`;
}

/** Reads all three ComfyUI output shapes: images (SaveImage), images+animated (SaveVideo), gifs (VHS). */
function collect(entry: HistoryEntry, want: 'image' | 'video'): Asset[] {
  const out: Asset[] = [];
  for (const node of Object.values(entry.outputs ?? {})) {
    const animated = node.animated?.some(Boolean) ?? false;
    const files = [...(node.gifs ?? []), ...(node.images ?? [])];
    for (const f of files) {
      const type = contentTypeOf(f.filename, (f as { format?: string }).format);
      const isVideo = type.startsWith('video/') || animated || (node.gifs?.includes(f) ?? false);
      if ((want === 'video') !== isVideo) continue;
      out.push({ kind: 'worker', filename: f.filename, subfolder: f.subfolder ?? '', type: f.type ?? 'output', contentType: type });
    }
  }
  return out;
}

const TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', mp4: 'video/mp4', webm: 'video/webm' };

function contentTypeOf(filename: string, format?: string): string {
  if (format?.startsWith('video/')) return format.includes('webm') ? 'video/webm' : 'video/mp4';
  return TYPES[filename.split('.').pop()?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}

function extFor(type: string): string {
  const t = type.split(';')[0]!.trim();
  return { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'audio/wav': 'wav', 'audio/x-wav': 'wav', 'audio/mpeg': 'mp3', 'audio/mp4': 'm4a', 'audio/flac': 'flac', 'audio/ogg': 'ogg' }[t] ?? '';
}

async function workerError(res: Response): Promise<Error> {
  if (res.status === 400) {
    const body = (await res.json().catch(() => ({}))) as { error?: { type?: string } };
    return upstreamError(`The worker rejected the workflow (${body.error?.type ?? 'invalid_prompt'})`);
  }
  if (res.status === 401 || res.status === 403) return upstreamError('The worker refused the gateway credentials');
  return upstreamError(`The worker failed (HTTP ${res.status})`);
}

// Stand-in for the self-hosted ComfyUI worker (native API, see docs/reference/comfyui-worker.md),
// with the deployment's auth (bearer token or AWS SigV4) in front. In-memory, 127.0.0.1 only.
// Faults on POST /prompt, by markers in any text input of the graph (e.g. the prompt): #comfy-first-<n>-<mode> makes
// the first n submits carrying that text fail, then they are served; modes: refuse (the connection is closed, nothing
// queued), 429 / 503 (what a proxy in front answers when the worker is saturated, with retry-after: 1), 502, and drop
// (the prompt IS queued, then the connection is closed before the answer). #comfy-flaky-<pct>: each submit fails
// with that probability (refuse or 503, at random). Unusable videos: #comfy-not-mp4 (the saved video is an HTML
// page), #comfy-zero-duration (an MP4 whose movie and media headers say 0 s).
import { createServer } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AwsV4Signer } from 'aws4fetch';
import { gradientPng, png, mp4 } from './media.mjs';

export const DEFAULT_KNOWN_NODES = ['CheckpointLoaderSimple', 'UNETLoader', 'CLIPLoader', 'DualCLIPLoader',
  'VAELoader', 'CLIPTextEncode', 'ConditioningZeroOut', 'EmptyLatentImage', 'EmptySD3LatentImage',
  'EmptyHunyuanLatentVideo', 'KSampler', 'KSamplerAdvanced', 'ModelSamplingSD3', 'VAEDecode', 'SaveImage',
  'PreviewImage', 'LoadImage', 'LoadAudio', 'CLIPVisionLoader', 'CLIPVisionEncode', 'WanImageToVideo',
  'CreateVideo', 'SaveVideo', 'SaveAnimatedWEBP', 'VHS_VideoCombine', 'VHS_LoadAudioUpload', 'AudioEncoderLoader',
  'AudioEncoderEncode', 'WanInfiniteTalkToVideo', 'ModelPatchLoader', 'ImageScale', 'TrimVideoLatent', 'VAEEncode', 'RepeatLatentBatch'];
const OUTPUT_NODES = new Set(['SaveImage', 'SaveVideo', 'SaveAnimatedWEBP', 'VHS_VideoCombine', 'PreviewImage']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TYPES = { png: 'image/png', mp4: 'video/mp4', webp: 'image/webp', webm: 'video/webm', jpg: 'image/jpeg',
  jpeg: 'image/jpeg', wav: 'audio/wav', mp3: 'audio/mpeg', flac: 'audio/flac', ogg: 'audio/ogg', m4a: 'audio/mp4' };
// 1x1 lossless WebP (stand-in bytes for SaveAnimatedWEBP).
const WEBP = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');

const sha256 = (b) => createHash('sha256').update(b).digest();
/** Constant-time string comparison (hash first so lengths match). */
const safeEqual = (a, b) => timingSafeEqual(sha256(String(a)), sha256(String(b)));
const isLink = (v) => Array.isArray(v) && v.length === 2 && (typeof v[0] === 'string' || typeof v[0] === 'number');
const err = (type, message, details = '', extra_info = {}) => ({ type, message, details, extra_info });
const unsafePath = (p) => p.includes('..') || p.startsWith('/') || p.startsWith('\\') || /^[a-zA-Z]:/.test(p);

/** Verify an AWS SigV4 Authorization header by re-signing with aws4fetch. @returns {Promise<boolean>} */
async function verifySigV4(req, body, { accessKeyId, secretAccessKey, region, service }) {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/
    .exec(req.headers.authorization || '');
  const amzDate = String(req.headers['x-amz-date'] || '');
  if (!m || m[1] !== accessKeyId || m[3] !== region || m[4] !== service || !/^\d{8}T\d{6}Z$/.test(amzDate)) return false;
  if (m[2] !== amzDate.slice(0, 8)) return false;
  const when = Date.parse(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!(Math.abs(Date.now() - when) < 15 * 60_000)) return false; // AWS allows 15 min clock skew
  const claimed = req.headers['x-amz-content-sha256'];
  if (claimed && claimed !== 'UNSIGNED-PAYLOAD' && claimed !== sha256(body).toString('hex')) return false;
  const signed = m[5].split(';');
  if (!signed.includes('host') || !signed.includes('x-amz-date')) return false;
  const headers = {};
  for (const h of signed) if (h !== 'host') headers[h] = String(req.headers[h] ?? '');
  const signer = new AwsV4Signer({ method: req.method, url: `http://${req.headers.host}${req.url}`, headers,
    body: body.length ? body : undefined, accessKeyId, secretAccessKey, region, service, datetime: amzDate,
    allHeaders: true });
  return signer.signedHeaders === m[5] && safeEqual(await signer.signature(), m[6]);
}

/** Validate an API-format graph like ComfyUI's validate_prompt. @returns {{error:object,node_errors:object}|null} */
function validate(graph, knownNodes) {
  const nodes = Object.entries(graph);
  for (const [id, node] of nodes) {
    const ct = node?.class_type;
    if (!ct || !knownNodes.includes(ct)) return { error: err('missing_node_type',
      `Node '${ct}' not found. The custom node may not be installed.`, `Node ID '#${id}'`,
      { node_id: id, class_type: ct ?? null, node_title: ct ?? null }), node_errors: {} };
  }
  const outputs = nodes.filter(([, n]) => OUTPUT_NODES.has(n.class_type)).map(([id]) => id);
  if (!outputs.length) return { error: err('prompt_no_outputs', 'Prompt has no outputs'), node_errors: {} };
  const upstream = (id, seen = new Set()) => { // ids reachable backwards from id (inclusive)
    if (seen.has(id) || !graph[id]) return seen;
    seen.add(id);
    for (const v of Object.values(graph[id].inputs || {})) if (isLink(v)) upstream(String(v[0]), seen);
    return seen;
  };
  const closures = outputs.map((o) => [o, upstream(o)]);
  const node_errors = {};
  for (const [id, node] of nodes) {
    const errors = [];
    for (const [name, v] of Object.entries(node.inputs || {})) {
      if (isLink(v) && !graph[String(v[0])]) errors.push(err('required_input_missing', 'Required input is missing',
        `${name} (links to missing node ${v[0]})`));
      else if (typeof v === 'string' && v.includes('#comfy-invalid')) errors.push(err('value_not_in_list',
        'Value not in list', `${name}: '${v}' not in (list of length 3)`, { input_name: name, received_value: v }));
    }
    if (errors.length) node_errors[id] = { errors, class_type: node.class_type,
      dependent_outputs: closures.filter(([, c]) => c.has(id)).map(([o]) => o) };
  }
  if (!Object.keys(node_errors).length) return null;
  const details = Object.entries(node_errors).flatMap(([id, e]) =>
    e.errors.map((x) => `${e.class_type} ${id}: ${x.message}: ${x.details}`)).join('\n');
  return { error: err('prompt_outputs_failed_validation', 'Prompt outputs failed validation', details), node_errors };
}

/**
 * Start a stand-in ComfyUI server.
 * @param {{token?: string, sigv4?: {accessKeyId:string,secretAccessKey:string,region:string,service:string},
 *   port?: number, prefix?: string, knownNodes?: string[]}} [opts]
 * @returns {Promise<{url: string, calls: object[], close: () => Promise<void>}>}
 */
export async function startComfy({ token, sigv4, port = 0, prefix = '', knownNodes = DEFAULT_KNOWN_NODES } = {}) {
  prefix = prefix.replace(/\/+$/, '');
  if (prefix && !prefix.startsWith('/')) prefix = '/' + prefix;
  /** @type {object[]} */ const calls = [];
  const jobs = new Map(); // prompt_id → job
  const files = new Map(); // `${type}/${subfolder}/${filename}` → {bytes, contentType}
  const counters = new Map();
  const submits = new Map(); // marker text → submits seen (#comfy-first-<n>-<mode>)
  let number = 0;
  const fileKey = (type, sub, name) => `${type}/${sub}/${name}`;

  /** Allocate a ComfyUI-style output filename from a filename_prefix ("sub/name"). */
  const nextName = (filenamePrefix, ext, vhs = false) => {
    const parts = String(filenamePrefix).split('/');
    const base = parts.pop(), subfolder = parts.join('/');
    const n = (counters.get(filenamePrefix) || 0) + 1;
    counters.set(filenamePrefix, n);
    return { subfolder, filename: `${base}_${String(n).padStart(5, '0')}${vhs ? '' : '_'}.${ext}` };
  };
  const store = (type, subfolder, filename, bytes) => files.set(fileKey(type, subfolder, filename),
    { bytes, contentType: TYPES[filename.split('.').pop().toLowerCase()] || 'application/octet-stream' });

  /** Produce the outputs of a finished job (and store its files). */
  function makeOutputs(job) {
    const all = Object.values(job.graph);
    const num = (key) => all.map((n) => n.inputs?.[key]).find((v) => typeof v === 'number');
    // Text to image: an empty latent of width x height x batch_size. Image to image: the input scaled by
    // ImageScale to width x height, VAE-encoded, repeated `amount` times by RepeatLatentBatch.
    const empty = all.find((n) => ['EmptyLatentImage', 'EmptySD3LatentImage'].includes(n.class_type))?.inputs;
    const scale = all.find((n) => n.class_type === 'ImageScale')?.inputs || {};
    const repeat = all.find((n) => n.class_type === 'RepeatLatentBatch')?.inputs || {};
    const latent = empty || { width: scale.width, height: scale.height, batch_size: repeat.amount ?? 1 };
    const side = (v, def) => (Number.isInteger(v) && v > 0 ? v : def);
    const outputs = {};
    for (const id of job.outputNodeIds) {
      const { class_type: ct, inputs = {} } = job.graph[id];
      if (ct === 'SaveImage' || ct === 'PreviewImage') {
        const type = ct === 'SaveImage' ? 'output' : 'temp';
        const count = typeof latent.batch_size === 'number' ? latent.batch_size : 1;
        // Exactly the latent's size (ComfyUI's EmptyLatentImage default, 512, when the graph has none).
        const [w, h] = [side(latent.width, 512), side(latent.height, 512)];
        outputs[id] = { images: Array.from({ length: count }, (_, i) => {
          const f = nextName(type === 'temp' ? 'ComfyUI_temp' : inputs.filename_prefix || 'ComfyUI', 'png');
          store(type, f.subfolder, f.filename, gradientPng(w, h, [(job.number * 40) % 256, (i * 60) % 256, 128]));
          return { ...f, type };
        }) };
        continue;
      }
      if (ct === 'SaveAnimatedWEBP') {
        const f = nextName(inputs.filename_prefix || 'ComfyUI', 'webp');
        store('output', f.subfolder, f.filename, WEBP);
        outputs[id] = { images: [{ ...f, type: 'output' }], animated: [true] };
        continue;
      }
      const fps = (typeof inputs.frame_rate === 'number' && inputs.frame_rate) || num('fps') || num('frame_rate') || 16;
      const frames = num('length') ?? num('num_frames');
      const seconds = frames ? frames / fps : 2;
      // A decodable 64x64 H.264 picture; the requested width x height is the track's presentation size (tkhd).
      let bytes = mp4({ seconds, fps, width: side(num('width'), 64), height: side(num('height'), 64) });
      // #comfy-not-mp4: the saved "video" is an HTML page; #comfy-zero-duration: an MP4 whose mvhd/mdhd say 0.
      if (job.video === 'not-mp4') bytes = Buffer.from('<!doctype html><p>not a video</p>');
      if (job.video === 'zero') for (const box of ['mvhd', 'mdhd']) bytes.writeUInt32BE(0, bytes.indexOf(box, 0, 'latin1') + 4 + 16);
      if (ct === 'SaveVideo') {
        const f = nextName(inputs.filename_prefix || 'video/ComfyUI', 'mp4');
        store('output', f.subfolder, f.filename, bytes);
        outputs[id] = { images: [{ ...f, type: 'output' }], animated: [true] };
      } else if (ct === 'VHS_VideoCombine') {
        const type = inputs.save_output === false ? 'temp' : 'output';
        const f = nextName(inputs.filename_prefix || 'AnimateDiff', 'mp4', true);
        const workflow = f.filename.replace(/\.mp4$/, '.png');
        store(type, f.subfolder, f.filename, bytes);
        store(type, f.subfolder, workflow, png(8, 8, [0, 0, 0]));
        outputs[id] = { gifs: [{ ...f, type, format: 'video/h264-mp4', frame_rate: fps, workflow,
          fullpath: `/opt/ComfyUI/${type}/${f.subfolder ? f.subfolder + '/' : ''}${f.filename}` }] };
      }
    }
    return outputs;
  }

  /** Finish every job whose time has come. */
  function settle() {
    const now = Date.now();
    for (const job of jobs.values()) {
      if (job.status || now < job.doneAt) continue;
      const start = ['execution_start', { prompt_id: job.id, timestamp: job.at }];
      if (job.errorNode) {
        const node_type = job.graph[job.errorNode].class_type;
        job.outputs = {};
        job.status = { status_str: 'error', completed: false, messages: [start, ['execution_error', { prompt_id: job.id,
          node_id: job.errorNode, node_type, executed: [], exception_message: 'CUDA out of memory',
          exception_type: 'torch.OutOfMemoryError', traceback: [], current_inputs: {}, current_outputs: {}, timestamp: now }]] };
      } else {
        job.outputs = makeOutputs(job);
        job.status = { status_str: 'success', completed: true,
          messages: [start, ['execution_success', { prompt_id: job.id, timestamp: now }]] };
      }
    }
  }
  const historyEntry = (j) => {
    const entry = { prompt: [j.number, j.id, j.graph, j.extra_data, j.outputNodeIds], outputs: j.outputs, status: j.status, meta: {} };
    // Wrong-shaped history for fault tests (#comfy-shape-<name> in any prompt text of the job).
    const first = Object.values(j.outputs ?? {})[0];
    switch (j.shape) {
      case 'gifs-object': if (first) first.gifs = { filename: 'x.mp4' }; break;
      case 'filename-number': for (const f of [...(first?.images ?? []), ...(first?.gifs ?? [])]) f.filename = 123; break;
      case 'messages-object': entry.status = { ...j.status, messages: { execution_start: true } }; break;
      case 'outputs-string': entry.outputs = 'done'; break;
      case 'traversal': for (const f of [...(first?.images ?? []), ...(first?.gifs ?? [])]) f.subfolder = '../../etc'; break;
    }
    return entry;
  };

  /** Route one authenticated request. @returns {Promise<[number, any, Record<string,string>?]>} */
  async function route(method, path, query, raw, headers) {
    const reqHeaders = headers;
    const json = () => { try { return JSON.parse(raw.toString('utf8') || 'null'); } catch { return undefined; } };
    settle();
    if (method === 'POST' && path === '/prompt') {
      const body = json();
      if (!body || typeof body !== 'object' || !('prompt' in body) || body.prompt == null)
        return [400, { error: err('no_prompt', 'No prompt provided', 'No prompt provided'), node_errors: {} }];
      if (body.prompt_id !== undefined && !(typeof body.prompt_id === 'string' && UUID.test(body.prompt_id)))
        return [400, { error: err('invalid_prompt_id', 'Invalid prompt_id', 'prompt_id must be a canonical lowercase UUID'), node_errors: {} }];
      const graph = body.prompt;
      if (typeof graph !== 'object' || Array.isArray(graph))
        return [400, { error: err('invalid_prompt', 'Invalid prompt', 'prompt must be an object'), node_errors: {} }];
      const invalid = validate(graph, knownNodes);
      if (invalid) return [400, invalid];
      const texts = Object.entries(graph).flatMap(([id, n]) =>
        Object.values(n.inputs || {}).filter((v) => typeof v === 'string').map((v) => [id, v]));
      const has = (marker) => texts.find(([, v]) => v.includes(marker))?.[0];
      let fault = null;
      for (const [, v] of texts) {
        const first = v.match(/#comfy-first-(\d+)-(refuse|429|502|503|drop)/);
        if (first) {
          const n = (submits.get(v) ?? 0) + 1;
          submits.set(v, n);
          if (n <= Number(first[1])) fault = first[2];
        }
        const flaky = v.match(/#comfy-flaky-(\d+)/);
        if (!fault && flaky && Math.random() * 100 < Number(flaky[1])) fault = Math.random() < 0.5 ? 'refuse' : '503';
      }
      if (fault === 'refuse') return [0, 'destroy'];
      if (fault === '429' || fault === '503') return [Number(fault), { error: 'busy' }, { 'retry-after': '1' }];
      if (fault === '502') return [502, { error: 'bad gateway' }];
      const id = body.prompt_id || crypto.randomUUID();
      const at = Date.now();
      const delay = has('#comfy-hang') ? Infinity : has('#comfy-slow') ? 3000 : 300;
      const job = { id, number: number++, graph, extra_data: body.extra_data || {}, at, doneAt: at + delay,
        outputNodeIds: Object.keys(graph).filter((k) => OUTPUT_NODES.has(graph[k].class_type)),
        errorNode: has('#comfy-error'), status: null, outputs: {},
        video: has('#comfy-not-mp4') ? 'not-mp4' : has('#comfy-zero-duration') ? 'zero' : '',
        shape: texts.map(([, v]) => v.match(/#comfy-shape-([a-z-]+)/)?.[1]).find(Boolean) };
      jobs.set(id, job);
      if (fault === 'drop') return [0, 'destroy']; // queued, but the answer is lost
      return [200, { prompt_id: id, number: job.number, node_errors: {} }];
    }
    if (method === 'GET' && path === '/history') {
      const max = Number(query.max_items) || Infinity;
      const done = [...jobs.values()].filter((j) => j.status).slice(-max);
      return [200, Object.fromEntries(done.map((j) => [j.id, historyEntry(j)]))];
    }
    if (method === 'GET' && path.startsWith('/history/')) {
      const j = jobs.get(decodeURIComponent(path.slice(9)));
      if (j?.status && j.shape === 'history-null') return [200, null];
      return [200, j?.status ? { [j.id]: historyEntry(j) } : {}];
    }
    if (method === 'GET' && path === '/queue' && [...jobs.values()].some((j) => !j.status && j.shape === 'queue-object')) {
      return [200, { queue_pending: [], queue_running: { running: true } }];
    }
    if (method === 'GET' && path === '/queue') return [200, { queue_pending: [], queue_running: [...jobs.values()]
      .filter((j) => !j.status).map((j) => [j.number, j.id, j.graph, {}, j.outputNodeIds]) }];
    if (method === 'POST' && path === '/interrupt') {
      const target = json()?.prompt_id;
      for (const j of jobs.values()) if (!j.status && (!target || j.id === target)) {
        j.status = { status_str: 'error', completed: false, messages: [['execution_start', { prompt_id: j.id, timestamp: j.at }],
          ['execution_interrupted', { prompt_id: j.id, node_id: j.outputNodeIds[0], node_type: j.graph[j.outputNodeIds[0]].class_type,
            executed: [], timestamp: Date.now() }]] };
      }
      return [200, ''];
    }
    if (method === 'GET' && path === '/view') {
      const { filename = '', subfolder = '', type = 'output' } = query;
      if (!filename) return [400, ''];
      if (unsafePath(filename) || unsafePath(subfolder)) return [403, ''];
      const f = files.get(fileKey(type, subfolder, filename));
      if (!f) return [404, ''];
      const headers = { 'content-type': f.contentType, 'content-disposition': `filename="${filename}"`, 'accept-ranges': 'bytes' };
      // Single byte ranges like aiohttp's FileResponse: 206 with Content-Range, or 416 when unsatisfiable.
      const m = /^bytes=(\d*)-(\d*)$/.exec(String(reqHeaders.range ?? '').trim());
      if (m && (m[1] || m[2])) {
        const len = f.bytes.length;
        let start = m[1] === '' ? Math.max(0, len - Number(m[2])) : Number(m[1]);
        const end = m[1] === '' || m[2] === '' ? len - 1 : Math.min(Number(m[2]), len - 1);
        if (start >= len || start > end || (m[1] === '' && Number(m[2]) === 0)) return [416, '', { 'content-range': `bytes */${len}` }];
        return [206, f.bytes.subarray(start, end + 1), { ...headers, 'content-range': `bytes ${start}-${end}/${len}` }];
      }
      return [200, f.bytes, headers];
    }
    if (method === 'POST' && path === '/upload/image') {
      let form;
      try { form = await new Request('http://comfy/upload', { method, headers: { 'content-type': headers['content-type'] || '' }, body: raw }).formData(); }
      catch { return [400, '']; }
      const file = form.get('image');
      if (!file || typeof file === 'string') return [400, ''];
      const type = String(form.get('type') || 'input'), subfolder = String(form.get('subfolder') || '');
      let name = file.name || 'upload.png';
      if (unsafePath(name) || unsafePath(subfolder) || !['input', 'temp', 'output'].includes(type)) return [400, ''];
      if (!['true', '1'].includes(String(form.get('overwrite')).toLowerCase())) {
        const [stem, ext] = /^(.*?)(\.[^.]*)?$/.exec(name).slice(1);
        for (let i = 1; files.has(fileKey(type, subfolder, name)); i++) name = `${stem} (${i})${ext || ''}`;
      }
      const bytes = Buffer.from(await file.arrayBuffer());
      files.set(fileKey(type, subfolder, name), { bytes,
        contentType: TYPES[name.split('.').pop().toLowerCase()] || file.type || 'application/octet-stream' });
      return [200, { name, subfolder, type }];
    }
    if (method === 'GET' && path === '/system_stats') return [200, {
      system: { os: 'posix', ram_total: 68719476736, ram_free: 51539607552, comfyui_version: '0.3.75',
        python_version: '3.12.3', pytorch_version: '2.8.0+cu128', embedded_python: false, argv: ['main.py', '--listen'] },
      devices: [{ name: 'cuda:0 NVIDIA L40S : cudaMallocAsync', type: 'cuda', index: 0, vram_total: 48305799168,
        vram_free: 46170898432, torch_vram_total: 0, torch_vram_free: 0 }] }];
    return [404, { error: 'not found' }];
  }

  const server = createServer(async (req, res) => {
    const send = (status, body, headers = {}) => {
      const buf = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      const ct = Buffer.isBuffer(body) || typeof body === 'string' ? 'text/plain' : 'application/json';
      res.writeHead(status, { 'content-type': ct, ...headers, 'content-length': buf.length }).end(buf);
    };
    try {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const raw = Buffer.concat(chunks);
      const u = new URL(req.url, 'http://127.0.0.1');
      if (u.pathname === '/__calls' || u.pathname === `${prefix}/__calls`) {
        if (req.method === 'DELETE') { calls.length = 0; return send(200, { ok: true }); }
        return send(200, calls);
      }
      const ct = String(req.headers['content-type'] || '');
      let body = null;
      if (ct.startsWith('multipart/form-data')) {
        try { body = [...new Set((await new Request('http://x/', { method: 'POST', headers: { 'content-type': ct }, body: raw })
          .formData()).keys())]; } catch { body = null; }
      } else if (raw.length) { try { body = JSON.parse(raw.toString('utf8')); } catch { body = null; } }
      const call = { method: req.method, path: u.pathname, route: null, query: Object.fromEntries(u.searchParams),
        headers: { ...req.headers }, body, at: Date.now(), status: 0 };
      calls.push(call);
      const reply = (status, b, h) => { call.status = status; send(status, b, h); };
      if (token) {
        const m = /^Bearer (.+)$/.exec(String(req.headers.authorization || ''));
        if (!m || !safeEqual(m[1], token)) return reply(401, { error: 'unauthorized' });
      }
      if (sigv4 && !(await verifySigV4(req, raw, sigv4))) return reply(403, { error: 'invalid signature' });
      if (prefix && u.pathname !== prefix && !u.pathname.startsWith(prefix + '/')) return reply(404, { error: 'not found' });
      let path = u.pathname.slice(prefix.length) || '/';
      if (path === '/api' || path.startsWith('/api/')) path = path.slice(4) || '/';
      call.route = path;
      const [status, out, headers] = await route(req.method, path, call.query, raw, req.headers);
      if (status === 0) { call.status = 0; return void res.socket?.destroy(); } // a transport fault: no answer at all
      reply(status, out, headers);
    } catch (e) {
      send(500, { error: String(e?.stack || e) });
    }
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    url: origin + prefix,
    calls,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

// Stand-in for fal.ai (sync runner + queue + CDN files), speaking the protocol in docs/reference/fal.md.
// In-memory, 127.0.0.1 only, only node: builtins. Failure injection by markers in the input `prompt`
// (so concurrent tests don't interfere): #fal-422 #fal-500 #fal-503 #fal-timeout #fal-hang #fal-partial
// #fal-job-fail #fal-job-fail-422 #fal-slow #fal-short-audio #fal-half #fal-queue-<n> #fal-start-timeout (see the queue
// comment in startFal), and hostile ones: #fal-foreign-url (an output URL on a
// host that is not fal's CDN), #fal-html (an "image" that is an HTML page), #fal-422-url (a 422 whose message quotes
// a CDN URL). For load and memory runs: #fal-size-<bytes> pads every output file to that size; #fal-chunked serves
// the outputs without a Content-Length. Faults: #fal-shape-<name> answers a wrong-shaped JSON body (see SHAPES),
// #fal-stall sends half a sync result and stalls, #fal-stall-file / #fal-short-file serve an output file that stalls
// half way / ends short of its Content-Length. Unusable video results (issue 24): #fal-shape-no-video (a COMPLETED
// result of `{"seed":1}`), #fal-huge-<bytes> (every output file declares that size: the real bytes, then zeros,
// streamed as read), #fal-status-500 (the status endpoint answers 500), #fal-uncancellable (a cancel is accepted
// and ignored: the job completes as it would have). Every request except /__calls, /__webhooks and the JWKS is recorded
// in `calls` (outgoing webhooks never are).
// Webhooks: a queue submit with ?fal_webhook=<url> is reported to that URL the moment the job first counts as
// COMPLETED — by the clock (COMPLETE_AFTER_MS, #fal-slow: SLOW_COMPLETE_AFTER_MS, +20 ms), polled or not; earlier if
// a status/result/cancel call already saw it COMPLETED (2 polls) or it was cancelled; never for #fal-hang unless
// cancelled. Body (raw JSON): {request_id, gateway_request_id, status:"OK", payload: <what the result endpoint
// returns>} or {request_id, gateway_request_id, status:"ERROR", error: <message>, payload: {detail}} (failed or
// cancelled jobs). Signed like fal's: ED25519 over `request_id\nuser_id\ntimestamp\nhex(sha256(raw body))`, hex, in
// X-Fal-Webhook-{Request-Id,User-Id ("standin-user"),Timestamp (unix s),Signature}, with the key published at
// GET /.well-known/jwks.json ({keys:[decoy, signer]}, OKP/Ed25519, no auth: verifiers must try every key).
// POSTed with fetch (10 s timeout), up to 3 attempts ~1 s apart on non-2xx or network error. Every webhook is listed
// at GET /__webhooks[?request_id=<id>] as {url, requestId, headers (lower-case names), body (the exact raw string),
// at (ms), attempts: [{status, at} | {error, at}]}, so tests can relay it to an in-process gateway; `&timestamp=<s>`
// answers copies re-signed as if sent at that time (stale/early webhooks).
// Queue submits and sync runs may carry X-Fal-Request-Timeout (seconds > 0.1, else 400); it is recorded with the call.
// Transport faults, for the gateway's retries (sync runs; `first` and `flaky` also on queue submits):
// #fal-first-<n>-<mode> makes the first n calls carrying this exact prompt fail, then it is served normally; modes:
// refuse (the connection is closed at once, no answer), 429 (with retry-after: 1), 502, 503, 504 (request_timeout),
// drop (the request is taken — a queue job created — and the connection closed DROP_AFTER_MS later with no answer),
// midbody (200, half the result, then the connection closes). #fal-flaky-<pct>: each call fails with that
// probability with refuse, 503 or 429 (retry-after: 1), at random. #fal-down-<word>: calls to an endpoint whose id
// contains <word> answer 503 runner_unavailable (others are served). #fal-wait-<ms>: no runner for ms: the answer
// comes after ms, or — with an X-Fal-Request-Timeout shorter than that — a 504 request_timeout (X-Fal-Request-
// Timeout-Type: user) when that timeout passes.
// Outputs are real files: PNGs or baseline JPEGs (output_format) of exactly the reported width x height
// (text-to-image: image_size; image-to-image: the input's size; multi-image Kontext: its ~1 MP size for the aspect
// ratio) and MP4s that players decode (see media.mjs), presented at the size the endpoint delivers (videoSize).
import { createServer } from 'node:http';
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { fmp4, gradientJpeg, gradientPng, imageSize, mp4, padded } from './media.mjs';

const PRESETS = { square_hd: [1024, 1024], square: [512, 512], portrait_4_3: [768, 1024],
  portrait_16_9: [576, 1024], landscape_4_3: [1024, 768], landscape_16_9: [1024, 576] };
const NAMESPACES = ['workflows', 'comfy'];
const NOT_FOUND = { status: 404, body: { detail: 'Not Found' } };
const REQUEST_NOT_FOUND = { status: 404, body: { detail: 'Request not found' } };
const COMPLETE_AFTER_MS = 1500; // a job is COMPLETED after 2 status polls (IN_QUEUE, IN_PROGRESS) or this long
const SLOW_COMPLETE_AFTER_MS = 8000; // #fal-slow: 4 IN_PROGRESS polls, or this long
export const DROP_AFTER_MS = 1500; // #fal-first-<n>-drop: the connection closes this long after the request

/** @typedef {{ status: number, body: any, headers?: Record<string, string> }} Reply */
/** @returns {Reply} an infrastructure error as fal sends it */
const failure = (status, detail, type) => ({ status, body: { detail, error_type: type }, headers: { 'x-fal-error-type': type } });
/** @returns {Reply} a 422 validation error (pydantic style) */
const invalid = (loc, msg, type = 'value_error') =>
  ({ status: 422, body: { detail: [{ loc: ['body', ...[loc].flat()], msg, type }] } });

/** The `owner/alias` part of an endpoint id (`ns/owner/alias` for workflows/comfy), or null. */
export function endpointBase(id) {
  const parts = String(id).split('/');
  const n = NAMESPACES.includes(parts[0]) ? 3 : 2;
  if (parts.length < n || parts.some((p) => !p)) return null;
  return parts.slice(0, n).join('/');
}

const str = (input, field) => {
  if (input[field] == null || input[field] === '') throw invalid(field, 'field required', 'value_error.missing');
  if (typeof input[field] !== 'string') throw invalid(field, 'str type expected', 'type_error.str');
};
const int = (input, field, def, min, max, loc = field) => {
  const v = input[field] ?? def;
  if (!Number.isInteger(v)) throw invalid(loc, 'value is not a valid integer', 'type_error.integer');
  if (v < min) throw invalid(loc, `ensure this value is greater than or equal to ${min}`, 'value_error.number.not_ge');
  if (v > max) throw invalid(loc, `ensure this value is less than or equal to ${max}`, 'value_error.number.not_le');
  return v;
};
const num = (input, field, def, min, max) => {
  const v = input[field] ?? def;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(field, 'value is not a valid float', 'type_error.float');
  if (v < min) throw invalid(field, `ensure this value is greater than or equal to ${min}`, 'value_error.number.not_ge');
  if (v > max) throw invalid(field, `ensure this value is less than or equal to ${max}`, 'value_error.number.not_le');
  return v;
};
const bool = (input, field) => {
  if (input[field] != null && typeof input[field] !== 'boolean') throw invalid(field, 'value could not be parsed to a boolean', 'type_error.bool');
};
const seedOf = (input) => (Number.isInteger(input.seed) ? input.seed : Math.floor(Math.random() * 2 ** 31));

const FOREIGN_URL = 'https://cdn.evil.example/files/owned.png';
const FILE_TYPES = { png: 'image/png', jpg: 'image/jpeg', mp4: 'video/mp4' };

/** Wrong-shaped answers, by where they replace the real one: run (sync result), submit, status or result. */
const SHAPES = {
  'null-run': ['run', null],
  'images-string': ['run', { images: 'https://v3.fal.media/files/x.png' }],
  'images-object': ['run', { images: { url: 'x' } }],
  'image-url-number': ['run', { images: [{ url: 42 }] }],
  'null-submit': ['submit', null],
  'submit-id-number': ['submit', { request_id: 7, status: 'IN_QUEUE' }],
  'null-status': ['status', null],
  'status-unknown': ['status', { status: 'SOMETHING_ELSE' }],
  'null-result': ['result', null],
  'video-string': ['result', { video: 'https://v3.fal.media/files/x.mp4' }],
  'no-video': ['result', { seed: 1 }],
};
const shapeOf = (prompt, where) => {
  const name = prompt.match(/#fal-shape-([a-z-]+)/)?.[1];
  const shape = name && SHAPES[name];
  return shape && shape[0] === where ? { status: 200, body: shape[1] } : null;
};
const HTML = Buffer.from('<!doctype html><script>fetch("/v1/account")</script>');

/** output_format, num_images and seed, shared by the image models (FLUX Krea and Kontext: jpeg | png). */
function imageOptions(input) {
  const n = int(input, 'num_images', 1, 1, 4);
  const format = input.output_format ?? 'jpeg';
  if (format !== 'jpeg' && format !== 'png') throw invalid('output_format', "value is not a valid enumeration member; permitted: 'jpeg', 'png'", 'type_error.enum');
  return { n, format, seed: seedOf(input) };
}

/**
 * The images of a result: `partial` ones (#fal-partial) or n, each a file of exactly w x h in the requested format
 * (PNG, or a baseline JPEG, served as image/png or image/jpeg; a soft gradient whose colour follows the seed and
 * the image's index), reported with that width, height and content_type.
 */
function makeImages(input, addFile, partial, { w, h, n, format, seed }) {
  const ext = format === 'png' ? 'png' : 'jpg';
  const hostile = (make) => input.prompt.includes('#fal-foreign-url') ? FOREIGN_URL
    : input.prompt.includes('#fal-html') ? addFile('png', HTML) : addFile(ext, make());
  const images = Array.from({ length: partial ? 1 : n }, (_, i) => ({
    url: hostile(() => (format === 'png' ? gradientPng : gradientJpeg)(w, h, [seed & 255, (seed >> 8) & 255, i * 60])),
    width: w, height: h, content_type: format === 'png' ? 'image/png' : 'image/jpeg',
  }));
  return { images, timings: { inference: 0.42 }, seed, has_nsfw_concepts: images.map(() => false), prompt: input.prompt };
}

/** Image models (ids containing `flux`), as fal-ai/flux/krea: text to image, num_inference_steps 1-50 (28). */
function imageModel(input, addFile, partial) {
  str(input, 'prompt');
  int(input, 'num_inference_steps', 28, 1, 50);
  bool(input, 'enable_safety_checker');
  const size = input.image_size ?? 'landscape_4_3';
  let w, h;
  if (typeof size === 'string') {
    if (!PRESETS[size]) throw invalid('image_size', `value is not a valid enumeration member; permitted: ${Object.keys(PRESETS).join(', ')}`, 'type_error.enum');
    [w, h] = PRESETS[size];
  } else if (size && typeof size === 'object') {
    w = int(size, 'width', undefined, 1, 14142, ['image_size', 'width']);
    h = int(size, 'height', undefined, 1, 14142, ['image_size', 'height']);
  } else throw invalid('image_size', 'value is not a valid dict', 'type_error.dict');
  return makeImages(input, addFile, partial, { w, h, ...imageOptions(input) });
}

const MAX_INPUT_PIXELS = 4096 * 4096; // a larger input image is treated as unreadable (1024x1024 out)

/**
 * The width and height of a PNG, JPEG or WebP given as a data: URI (base64 or percent-encoded), or null (an
 * http(s) URL, which the stand-in does not fetch; another type; an unreadable or implausibly large header).
 */
function dataImageSize(url) {
  const m = /^data:([^,]*),(.*)$/s.exec(url);
  if (!m) return null;
  let bytes;
  try {
    bytes = /;base64$/i.test(m[1]) ? Buffer.from(m[2], 'base64') : Buffer.from(decodeURIComponent(m[2]), 'latin1');
  } catch { return null; }
  const size = imageSize(bytes);
  return size && size.width * size.height <= MAX_INPUT_PIXELS ? size : null;
}

/**
 * Image-to-image (ids ending in `/image-to-image` with `krea` or `flux`), as fal-ai/flux-1/krea/image-to-image:
 * prompt and image_url required, strength 0.01-1 (0.95), num_inference_steps 10-50 (40), seed, num_images 1-4,
 * output_format jpeg|png, enable_safety_checker. The images have the input's size when image_url is a data: URI of
 * a PNG, JPEG or WebP, else 1024x1024.
 */
function imageToImageModel(input, addFile, partial) {
  str(input, 'prompt');
  str(input, 'image_url');
  num(input, 'strength', 0.95, 0.01, 1);
  int(input, 'num_inference_steps', 40, 10, 50);
  bool(input, 'enable_safety_checker');
  const { width: w, height: h } = dataImageSize(input.image_url) ?? { width: 1024, height: 1024 };
  return makeImages(input, addFile, partial, { w, h, ...imageOptions(input) });
}

/** Kontext output sizes (about one megapixel) by aspect_ratio. */
const KONTEXT_SIZES = { '21:9': [1568, 672], '16:9': [1392, 752], '4:3': [1184, 880], '3:2': [1248, 832], '1:1': [1024, 1024],
  '2:3': [832, 1248], '3:4': [880, 1184], '9:16': [752, 1392], '9:21': [672, 1568] };

/**
 * Multi-image editing (ids containing `kontext` and ending in `/multi`), as fal-ai/flux-pro/kontext/multi: prompt
 * and image_urls (a non-empty list of strings) required; seed, guidance_scale, sync_mode, num_images 1-4,
 * output_format jpeg|png, safety_tolerance '1'-'6', enhance_prompt, aspect_ratio (one of KONTEXT_SIZES). The
 * images are about a megapixel: at aspect_ratio, or else at the aspect of the first input (when readable), or 1:1.
 */
function multiImageModel(input, addFile, partial) {
  str(input, 'prompt');
  const urls = input.image_urls;
  if (urls == null) throw invalid('image_urls', 'field required', 'value_error.missing');
  if (!Array.isArray(urls) || !urls.length) throw invalid('image_urls', 'value is not a valid list', 'type_error.list');
  urls.forEach((u, i) => { if (typeof u !== 'string' || !u) throw invalid(['image_urls', i], 'str type expected', 'type_error.str'); });
  num(input, 'guidance_scale', 3.5, 1, 20);
  bool(input, 'sync_mode');
  bool(input, 'enhance_prompt');
  if (input.safety_tolerance != null && !['1', '2', '3', '4', '5', '6'].includes(input.safety_tolerance)) {
    throw invalid('safety_tolerance', "value is not a valid enumeration member; permitted: '1', '2', '3', '4', '5', '6'", 'type_error.enum');
  }
  let ratio = input.aspect_ratio;
  if (ratio != null && !KONTEXT_SIZES[ratio]) throw invalid('aspect_ratio', `value is not a valid enumeration member; permitted: ${Object.keys(KONTEXT_SIZES).join(', ')}`, 'type_error.enum');
  if (ratio == null) {
    const first = dataImageSize(urls[0]);
    const aspect = first ? first.width / first.height : 1;
    ratio = Object.keys(KONTEXT_SIZES).reduce((best, r) => {
      const [a, b] = KONTEXT_SIZES[r], [c, d] = KONTEXT_SIZES[best];
      return Math.abs(Math.log(a / b / aspect)) < Math.abs(Math.log(c / d / aspect)) ? r : best;
    }, '1:1');
  }
  const [w, h] = KONTEXT_SIZES[ratio];
  return makeImages(input, addFile, partial, { w, h, ...imageOptions(input) });
}

/** Wan/InfiniTalk output sizes (landscape width x height) by resolution; portrait swaps them, 1:1 is short x short. */
const VIDEO_SIZES = { '480p': [832, 480], '580p': [1024, 576], '720p': [1280, 720] };
const VIDEO_RATIOS = ['auto', '16:9', '9:16', '1:1'];

/**
 * The picture size a video endpoint delivers (the MP4's tkhd): Krea-Wan 14B text-to-video takes no size and makes
 * 832x480 (Wan 14B's 480p; not verified for fal's endpoint); Wan image-to-video follows resolution (480p, 580p,
 * 720p; default 720p) and aspect_ratio (auto = the input image's orientation when it is a readable data: URI, else
 * 16:9); InfiniTalk follows resolution (480p, 720p; default 480p) in the portrait's orientation.
 */
function videoSize(id, input) {
  if (id.includes('krea-wan-14b')) return [832, 480];
  const infinitalk = id.includes('infinitalk');
  const resolution = input.resolution ?? (infinitalk ? '480p' : '720p');
  const allowed = infinitalk ? ['480p', '720p'] : Object.keys(VIDEO_SIZES);
  if (!allowed.includes(resolution)) throw invalid('resolution', `value is not a valid enumeration member; permitted: ${allowed.map((r) => `'${r}'`).join(', ')}`, 'type_error.enum');
  const ratio = infinitalk ? 'auto' : input.aspect_ratio ?? 'auto';
  if (!VIDEO_RATIOS.includes(ratio)) throw invalid('aspect_ratio', `value is not a valid enumeration member; permitted: ${VIDEO_RATIOS.map((r) => `'${r}'`).join(', ')}`, 'type_error.enum');
  const [long, short] = VIDEO_SIZES[resolution];
  const image = typeof input.image_url === 'string' ? dataImageSize(input.image_url) : null;
  const shape = ratio !== 'auto' ? ratio : !image ? '16:9' : image.width > image.height ? '16:9' : image.width < image.height ? '9:16' : '1:1';
  return shape === '16:9' ? [long, short] : shape === '9:16' ? [short, long] : [short, short];
}

/** Video models (ids containing `wan` or `infinitalk`). */
function videoModel(id, input, addFile) {
  str(input, 'prompt');
  let frames;
  const infinitalk = id.includes('infinitalk');
  if (infinitalk) {
    str(input, 'image_url');
    str(input, 'audio_url');
    frames = int(input, 'num_frames', 145, 41, 721);
  } else if (id.includes('krea-wan-14b')) {
    frames = int(input, 'num_frames', 78, 18, 162);
    if ((frames - 6) % 12) throw invalid('num_frames', 'num_frames must be of the form 12k+6 (18, 30, ..., 162)');
  } else {
    if (id.includes('image-to-video')) str(input, 'image_url');
    frames = int(input, 'num_frames', 81, 17, 161);
  }
  const fps = int(input, 'frames_per_second', infinitalk ? 25 : 16, 4, 60);
  // #fal-short-audio: InfiniTalk stops when the audio does — here after 2 s, whatever num_frames asked for.
  // #fal-half: any model delivers half of what was asked.
  let seconds = infinitalk && input.prompt.includes('#fal-short-audio') ? Math.min(2, frames / fps) : frames / fps;
  if (input.prompt.includes('#fal-half')) seconds /= 2;
  const [width, height] = videoSize(id, input);
  const bytes = input.prompt.includes('#fal-html') ? HTML : videoFile(input.prompt, seconds, fps, width, height);
  const url = input.prompt.includes('#fal-foreign-url') ? FOREIGN_URL.replace('.png', '.mp4') : addFile('mp4', bytes);
  return { video: { url, content_type: 'video/mp4', file_name: url.split('/').pop(), file_size: bytes.length }, seed: seedOf(input) };
}

/**
 * The delivered MP4 of `seconds` at `fps`, presented at width x height: plain; fragmented (#fal-fragmented: duration
 * in mvex/mehd, #fal-fragmented-nomehd: only in the fragments); or plain with an mvhd duration of 0
 * (#fal-zero-duration: a file whose length nobody can read).
 */
function videoFile(prompt, seconds, fps, width, height) {
  if (prompt.includes('#fal-fragmented')) return fmp4({ seconds, fps, width, height, mehd: !prompt.includes('#fal-fragmented-nomehd') });
  const file = mp4({ seconds, fps, width, height });
  if (prompt.includes('#fal-zero-duration')) {
    // mvhd and mdhd (version 0): version/flags, creation, modification, timescale, then the duration.
    for (const box of ['mvhd', 'mdhd']) file.writeUInt32BE(0, file.indexOf(box, 0, 'latin1') + 4 + 16);
  }
  return file;
}

/** The error a failed job's result returns (#fal-job-fail → 500, #fal-job-fail-422 → 422). @returns {Reply|null} */
function jobFailure(prompt) {
  if (prompt.includes('#fal-job-fail-422')) return invalid('prompt', 'Injected model validation failure (#fal-job-fail-422)');
  if (prompt.includes('#fal-job-fail')) return failure(500, 'Model failed (#fal-job-fail)', 'internal_error');
  return null;
}

/**
 * Start the fal stand-in on 127.0.0.1.
 * @param {{ key?: string, prefix?: string, port?: number, record?: boolean }} [opts] `record: false` keeps no
 *   call log (load and memory runs)
 * @returns {Promise<{ origin: string, runUrl: string, queueUrl: string, jwksUrl: string, calls: any[], close(): Promise<void> }>}
 */
export async function startFal({ key = 'test-fal-key', prefix = '', port = 0, record = true } = {}) {
  prefix = prefix.replace(/^\/+|\/+$/g, '');
  prefix = prefix ? `/${prefix}` : '';
  /** @type {any[]} */ const calls = [];
  const jobs = new Map(), files = new Map(), timers = new Set();
  let origin = '';
  let fileOpts = { size: 0, chunked: false, fault: '', virtual: 0 }; // set per request from the prompt's markers
  const addFile = (ext, bytes) => {
    const name = `${randomUUID()}.${ext}`;
    const body = fileOpts.size > bytes.length ? padded(bytes, fileOpts.size) : bytes;
    files.set(name, { bytes: body, type: FILE_TYPES[ext] ?? 'application/octet-stream', chunked: fileOpts.chunked, fault: fileOpts.fault, virtual: fileOpts.virtual });
    return `${origin}/files/${name}`;
  };

  const served = new Map(); // prompt → calls seen with a #fal-first-<n>-<mode> marker

  /** The transport fault this call gets (#fal-first, #fal-flaky, #fal-down), or null. */
  function faultOf(prompt, id) {
    const down = prompt.match(/#fal-down-([a-z0-9.-]+)/);
    if (down && id.includes(down[1])) return '503';
    const first = prompt.match(/#fal-first-(\d+)-(refuse|429|502|503|504|drop|midbody)/);
    if (first) {
      const n = (served.get(prompt) ?? 0) + 1;
      served.set(prompt, n);
      if (n <= Number(first[1])) return first[2];
    }
    const flaky = prompt.match(/#fal-flaky-(\d+)/);
    if (flaky && Math.random() * 100 < Number(flaky[1])) return ['refuse', '503', '429'][Math.floor(Math.random() * 3)];
    return null;
  }

  /** Applies a fault: an answer to send, or null when the connection was (or will be) closed instead. @returns {Reply|null} */
  function inflict(mode, res, output) {
    if (mode === 'refuse') { res.socket?.destroy(); return null; }
    if (mode === 'drop') {
      const t = setTimeout(() => { timers.delete(t); res.socket?.destroy(); }, DROP_AFTER_MS);
      timers.add(t);
      return null;
    }
    if (mode === 'midbody') {
      const text = JSON.stringify(output);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, text.length >> 1), () => res.socket?.destroy());
      return null;
    }
    if (mode === '429') return { status: 429, body: { detail: 'Too many concurrent requests' }, headers: { 'retry-after': '1' } };
    if (mode === '502') return failure(502, 'Bad gateway', 'runner_connection_error');
    if (mode === '504') return failure(504, 'Request timed out', 'request_timeout');
    return failure(503, 'Runner unavailable', 'runner_unavailable');
  }

  /** Markers, JSON shape and model validation. @returns {{ error: Reply } | { output: any }} */
  function evaluate(id, input) {
    if (input === undefined) return { error: invalid([], 'Expecting value: invalid JSON body', 'value_error.jsondecode') };
    if (!input || typeof input !== 'object' || Array.isArray(input)) return { error: invalid([], 'value is not a valid dict', 'type_error.dict') };
    const prompt = typeof input.prompt === 'string' ? input.prompt : '';
    fileOpts = {
      size: Number(prompt.match(/#fal-size-(\d+)/)?.[1] ?? 0),
      chunked: prompt.includes('#fal-chunked'),
      virtual: Number(prompt.match(/#fal-huge-(\d+)/)?.[1] ?? 0),
      fault: prompt.includes('#fal-stall-file') ? 'stall' : prompt.includes('#fal-short-file') ? 'short' : '',
    };
    if (prompt.includes('#fal-422-url')) return { error: invalid('image_url', 'Could not load https://v3.fal.media/files/zebra/SECRET-customer-file.png (403 Forbidden)') };
    if (prompt.includes('#fal-422')) return { error: invalid('prompt', 'Injected validation error (#fal-422)') };
    if (prompt.includes('#fal-500')) return { error: failure(500, 'Internal error', 'internal_error') };
    if (prompt.includes('#fal-503')) return { error: failure(503, 'Runner unavailable', 'runner_unavailable') };
    if (prompt.includes('#fal-timeout')) return { error: failure(504, 'Request timed out', 'request_timeout') };
    try {
      const partial = prompt.includes('#fal-partial');
      // Before the `flux` check (flux-1/krea/image-to-image contains it); image-to-video (wan) ids never match.
      if (id.endsWith('/image-to-image') && (id.includes('krea') || id.includes('flux'))) return { output: imageToImageModel(input, addFile, partial) };
      if (id.includes('kontext') && id.endsWith('/multi')) return { output: multiImageModel(input, addFile, partial) };
      if (id.includes('flux')) return { output: imageModel(input, addFile, partial) };
      if (id.includes('wan') || id.includes('infinitalk')) return { output: videoModel(id, input, addFile) };
      return { output: { input } }; // unknown endpoint: echo the input
    } catch (e) {
      if (e && typeof e.status === 'number') return { error: e };
      throw e;
    }
  }

  // Queue: a job is IN_QUEUE for its first status poll, or, with #fal-queue-<n> (n requests ahead at submission),
  // for n + 1 polls, its queue_position falling by one each (n, n-1, … 0); then IN_PROGRESS; COMPLETED after one
  // more poll (#fal-slow: four more) or by the clock. #fal-start-timeout: no runner ever frees up — with an
  // X-Fal-Request-Timeout the deadline counts as passed when the clock would have completed it (COMPLETED, and the
  // result is fal's 504 request_timeout with X-Fal-Request-Timeout-Type: user); without one it waits forever.
  const queued = (job) => Number(job.prompt.match(/#fal-queue-(\d+)/)?.[1] ?? 0);
  const position = (job) => Math.max(0, queued(job) - Math.max(0, job.polls - 1));
  const progress = (job) => {
    const slow = job.prompt.includes('#fal-slow');
    const ahead = queued(job);
    if (job.cancelled) return 'COMPLETED';
    if (job.prompt.includes('#fal-hang')) return job.polls <= 1 ? 'IN_QUEUE' : 'IN_PROGRESS'; // never completes
    if (job.prompt.includes('#fal-start-timeout')) {
      return job.startTimeout !== null && Date.now() - job.at > COMPLETE_AFTER_MS ? 'COMPLETED' : 'IN_QUEUE';
    }
    if (ahead > 0) {
      const early = Date.now() - job.at <= (slow ? SLOW_COMPLETE_AFTER_MS : COMPLETE_AFTER_MS);
      if (job.polls <= ahead + 1 && early) return 'IN_QUEUE';
      return job.polls <= ahead + (slow ? 5 : 2) && early ? 'IN_PROGRESS' : 'COMPLETED';
    }
    if (job.polls > (slow ? 5 : 2) || Date.now() - job.at > (slow ? SLOW_COMPLETE_AFTER_MS : COMPLETE_AFTER_MS)) return 'COMPLETED';
    return job.polls <= 1 ? 'IN_QUEUE' : 'IN_PROGRESS';
  };
  /** The job's state as a caller sees it now; the first time it is COMPLETED, its webhook (if any) goes out. */
  const state = (job) => {
    const s = progress(job);
    if (s === 'COMPLETED') completed(job);
    return s;
  };
  const links = (job) => {
    const response_url = `${origin}${prefix}/queue/${job.base}/requests/${job.id}`;
    return { request_id: job.id, response_url, status_url: `${response_url}/status`, cancel_url: `${response_url}/cancel` };
  };

  /** @returns {Promise<Reply | null>} null when the handler already answered (files, hang) */
  async function route(req, res, url, input) {
    const path = url.pathname, method = req.method;
    if (path.startsWith('/files/')) return serveFile(req, res, files.get(path.slice(7)));
    const run = `${prefix}/run/`, queue = `${prefix}/queue/`;
    if (!path.startsWith(run) && !path.startsWith(queue)) return NOT_FOUND;
    if (req.headers.authorization !== `Key ${key}`) return { status: 401, body: { detail: 'Unauthorized' } };
    const prompt = typeof input?.prompt === 'string' ? input.prompt : '';

    if (path.startsWith(run)) { // synchronous runner: POST {run}/{full id} → output
      const id = path.slice(run.length);
      if (method !== 'POST' || !endpointBase(id)) return NOT_FOUND;
      const timeout = req.headers['x-fal-request-timeout'];
      if (timeout !== undefined && !(/^\d+(\.\d+)?$/.test(String(timeout)) && Number(timeout) > 0.1)) {
        return { status: 400, body: { detail: 'Invalid X-Fal-Request-Timeout header: seconds greater than 0.1' } };
      }
      const fault = faultOf(prompt, id);
      if (fault && fault !== 'midbody') return inflict(fault, res);
      const wait = Number(prompt.match(/#fal-wait-(\d+)/)?.[1] ?? 0);
      if (wait > 0) { // no runner for `wait` ms: answered then, or a 504 when the start deadline passes first
        const startBy = timeout === undefined ? Infinity : Number(timeout) * 1000;
        await new Promise((resolve) => { const t = setTimeout(() => { timers.delete(t); resolve(undefined); }, Math.min(wait, startBy)); timers.add(t); });
        if (startBy < wait) return { ...failure(504, 'Request timed out', 'request_timeout'), headers: { 'x-fal-error-type': 'request_timeout', 'x-fal-request-timeout-type': 'user' } };
      }
      if (prompt.includes('#fal-hang')) {
        const t = setTimeout(() => send(res, failure(504, 'Request timed out', 'request_timeout')), 30_000);
        timers.add(t);
        res.on('close', () => { clearTimeout(t); timers.delete(t); });
        return null;
      }
      const r = evaluate(id, input);
      if ('error' in r) return r.error;
      if (fault === 'midbody') return inflict(fault, res, r.output);
      if (prompt.includes('#fal-stall')) { // headers and half the body, then nothing
        const text = JSON.stringify(r.output);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.write(text.slice(0, text.length >> 1));
        return null;
      }
      const shaped = shapeOf(prompt, 'run');
      if (shaped) return shaped;
      const fail = jobFailure(prompt);
      const headers = { 'x-fal-request-id': randomUUID() };
      return fail ? { ...fail, headers: { ...fail.headers, ...headers } } : { status: 200, body: r.output, headers };
    }

    const rest = path.slice(queue.length);
    if (method === 'POST') { // submit: POST {queue}/{full id}
      const base = endpointBase(rest);
      if (!base) return NOT_FOUND;
      // X-Fal-Request-Timeout: seconds (> 0.1) for a runner to start; not verified how fal answers a malformed one.
      const timeout = req.headers['x-fal-request-timeout'];
      if (timeout !== undefined && !(/^\d+(\.\d+)?$/.test(String(timeout)) && Number(timeout) > 0.1)) {
        return { status: 400, body: { detail: 'Invalid X-Fal-Request-Timeout header: seconds greater than 0.1' } };
      }
      const fault = faultOf(prompt, rest);
      if (fault === 'refuse' || fault === '429' || fault === '502' || fault === '503' || fault === '504') return inflict(fault, res);
      const r = evaluate(rest, input);
      if ('error' in r) return r.error;
      const startTimeout = timeout === undefined ? null : Number(timeout);
      const startFailure = prompt.includes('#fal-start-timeout') && startTimeout !== null
        ? { ...failure(504, 'Request timed out', 'request_timeout'), headers: { 'x-fal-error-type': 'request_timeout', 'x-fal-request-timeout-type': 'user' } }
        : null;
      const job = { id: randomUUID(), endpoint: rest, base, prompt, output: r.output, failure: startFailure ?? jobFailure(prompt),
        at: Date.now(), polls: 0, cancelled: false, startTimeout,
        hookUrl: url.searchParams.get('fal_webhook') || null, hookTimer: null, hooked: false };
      jobs.set(job.id, job);
      if (fault === 'drop' || fault === 'midbody') return inflict('drop', res); // the job exists; its id never arrives
      if (job.hookUrl && !prompt.includes('#fal-hang') && !(prompt.includes('#fal-start-timeout') && startTimeout === null)) {
        // The job completes by the clock (polled or not): just past the moment a status call would say COMPLETED.
        const t = setTimeout(() => { timers.delete(t); job.hookTimer = null; state(job); },
          (prompt.includes('#fal-slow') ? SLOW_COMPLETE_AFTER_MS : COMPLETE_AFTER_MS) + 20);
        timers.add(t);
        job.hookTimer = t;
      }
      return shapeOf(prompt, 'submit') ?? { status: 200, body: { status: 'IN_QUEUE', ...links(job), queue_position: queued(job) } };
    }
    // GET {queue}/{owner/alias}/requests/{id}[/status] and PUT .../requests/{id}/cancel
    const segs = rest.split('/');
    const i = segs.lastIndexOf('requests', segs.length - 2);
    const tail = segs.slice(i + 2).join('/');
    const kind = method === 'GET' && tail === '' ? 'result' : method === 'GET' && tail === 'status' ? 'status'
      : method === 'PUT' && tail === 'cancel' ? 'cancel' : null;
    if (i < 2 || !kind) return NOT_FOUND;
    const job = jobs.get(segs[i + 1]);
    if (!job || job.base !== segs.slice(0, i).join('/')) return REQUEST_NOT_FOUND;

    if (kind === 'status') {
      job.polls++;
      if (job.prompt.includes('#fal-status-500')) return failure(500, 'Internal Server Error', 'internal_error');
      const status = state(job);
      const body = { status, ...links(job), logs: null };
      if (url.searchParams.get('logs') === '1') {
        body.logs = status === 'IN_QUEUE' ? [] : [{ message: 'Running model', level: 'INFO', source: 'USER', timestamp: new Date(job.at).toISOString() }];
      }
      if (status === 'IN_QUEUE') body.queue_position = position(job);
      if (status === 'COMPLETED') {
        body.metrics = { inference_time: job.cancelled ? null : 0.42 };
        if (job.failure) {
          const d = job.failure.body.detail;
          body.error = typeof d === 'string' ? d : d[0].msg;
          body.error_type = job.failure.body.error_type ?? 'validation_error';
        }
      }
      return shapeOf(job.prompt, 'status') ?? { status: status === 'COMPLETED' ? 200 : 202, body };
    }
    if (kind === 'cancel') {
      if (state(job) === 'COMPLETED') return { status: 400, body: { status: 'ALREADY_COMPLETED' } };
      // #fal-uncancellable: the request is accepted, the job runs on and completes as it would have.
      if (job.prompt.includes('#fal-uncancellable')) return { status: 202, body: { status: 'CANCELLATION_REQUESTED' } };
      job.cancelled = true;
      // Not verified what fal's result returns for a cancelled request; we use the client_cancelled error type.
      job.failure = failure(499, 'Request was cancelled', 'client_cancelled');
      completed(job); // a cancelled job is COMPLETED now: its webhook says ERROR
      return { status: 202, body: { status: 'CANCELLATION_REQUESTED' } };
    }
    if (state(job) !== 'COMPLETED') return { status: 400, body: { detail: 'Request is still in progress' } };
    const reply = job.failure ?? shapeOf(job.prompt, 'result') ?? { status: 200, body: job.output };
    return { ...reply, headers: { ...reply.headers, 'x-fal-request-id': job.id } };
  }

  // Webhook signing: a decoy key first in the JWKS, then the one that signs.
  const signer = generateKeyPairSync('ed25519');
  const decoy = generateKeyPairSync('ed25519');
  const jwk = (pair, kid) => ({ ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'EdDSA' });
  const jwks = { keys: [jwk(decoy, 'standin-decoy'), jwk(signer, 'standin-signing')] };
  const USER_ID = 'standin-user';
  /** @type {{url: string, requestId: string, headers: Record<string, string>, body: string, at: number, attempts: object[]}[]} */
  const webhooks = [];
  const deliveries = new AbortController(); // aborted by close()

  /** A job has just been seen COMPLETED (or cancelled): send its webhook, once. */
  function completed(job) {
    if (!job.hookUrl || job.hooked) return;
    job.hooked = true;
    if (job.hookTimer) { clearTimeout(job.hookTimer); timers.delete(job.hookTimer); job.hookTimer = null; }
    sendWebhook(job, job.hookUrl).catch(() => {}); // never an unhandled rejection
  }

  /** The headers of a webhook for `requestId` with `body`, signed at `timestamp` (unix seconds). */
  function signed(requestId, body, timestamp) {
    const digest = createHash('sha256').update(body).digest('hex');
    const signature = sign(null, Buffer.from(`${requestId}\n${USER_ID}\n${timestamp}\n${digest}`), signer.privateKey).toString('hex');
    return { 'content-type': 'application/json', 'x-fal-webhook-request-id': requestId, 'x-fal-webhook-user-id': USER_ID,
      'x-fal-webhook-timestamp': timestamp, 'x-fal-webhook-signature': signature };
  }

  /** Reports a finished job to its fal_webhook URL, signed; up to 3 attempts ~1 s apart. */
  async function sendWebhook(job, hookUrl) {
    const failed = job.failure;
    const detail = failed?.body?.detail;
    const shaped = shapeOf(job.prompt, 'result'); // the same body the result endpoint answers
    const payload = failed
      ? { request_id: job.id, gateway_request_id: job.id, status: 'ERROR', error: typeof detail === 'string' ? detail : detail?.[0]?.msg ?? 'error', payload: { detail } }
      : { request_id: job.id, gateway_request_id: job.id, status: 'OK', payload: shaped ? shaped.body : job.output };
    const body = JSON.stringify(payload);
    const headers = signed(job.id, body, String(Math.floor(Date.now() / 1000)));
    const record = { url: hookUrl, requestId: job.id, headers, body, at: Date.now(), attempts: [] };
    webhooks.push(record);
    for (let attempt = 1; attempt <= 3 && !deliveries.signal.aborted; attempt++) {
      try {
        const timeout = AbortSignal.timeout(10_000);
        const signal = AbortSignal.any ? AbortSignal.any([timeout, deliveries.signal]) : timeout;
        const r = await fetch(hookUrl, { method: 'POST', headers, body, signal });
        await r.arrayBuffer().catch(() => {});
        record.attempts.push({ status: r.status, at: Date.now() });
        if (r.ok) return;
      } catch (e) {
        record.attempts.push({ error: String(e?.cause?.code ?? e?.cause?.message ?? e?.name ?? e), at: Date.now() }); // e.g. ECONNREFUSED, TimeoutError
      }
      if (attempt < 3 && !deliveries.signal.aborted) await new Promise((resolve) => { const t = setTimeout(() => { timers.delete(t); resolve(undefined); }, 1000); timers.add(t); });
    }
  }

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', origin);
      if (url.pathname === '/.well-known/jwks.json') return send(res, { status: 200, body: jwks });
      if (url.pathname === '/__webhooks') {
        const id = url.searchParams.get('request_id');
        const at = url.searchParams.get('timestamp'); // re-signed as if sent then (genuine but stale/early webhooks)
        const list = webhooks.filter((w) => !id || w.requestId === id).map((w) => (at ? { ...w, headers: signed(w.requestId, w.body, at) } : w));
        return send(res, { status: 200, body: list });
      }
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const raw = Buffer.concat(chunks).toString('utf8');
      let input = null; // null: no body; undefined: body is not JSON
      if (raw.length) try { input = JSON.parse(raw); } catch { input = undefined; }
      if (url.pathname === '/__calls') {
        if (req.method === 'DELETE') calls.length = 0;
        return send(res, req.method === 'GET' ? { status: 200, body: calls }
          : req.method === 'DELETE' ? { status: 200, body: { ok: true } } : NOT_FOUND);
      }
      if (record) calls.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams),
        headers: { ...req.headers }, body: input ?? null, at: Date.now() });
      const reply = await route(req, res, url, input);
      if (reply) send(res, reply);
    } catch (e) {
      send(res, { status: 500, body: { detail: `stand-in bug: ${e?.stack ?? e}` } });
    }
  });
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', () => resolve(undefined)); });
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  origin = `http://127.0.0.1:${address.port}`;
  return {
    origin, runUrl: `${origin}${prefix}/run`, queueUrl: `${origin}${prefix}/queue`, jwksUrl: `${origin}/.well-known/jwks.json`, calls,
    close: () => new Promise((resolve) => {
      deliveries.abort();
      for (const t of timers) clearTimeout(t);
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** Write a JSON reply (no-op if the client is gone or the response was already sent). */
function send(res, { status, body, headers = {} }) {
  if (res.headersSent || res.destroyed) return;
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

/** Serve a stored file with HEAD and single-range (206/416) support. @returns {Reply|null} */
function serveFile(req, res, file) {
  if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) return NOT_FOUND;
  const len = Math.max(file.bytes.length, file.virtual ?? 0);
  let start = 0, end = len - 1, status = 200;
  const headers = { 'content-type': file.type, 'accept-ranges': 'bytes' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(String(req.headers.range ?? '').trim());
  if (m && (m[1] || m[2])) {
    if (m[1] === '') start = Math.max(0, len - Number(m[2]));
    else { start = Number(m[1]); if (m[2] !== '') end = Math.min(Number(m[2]), len - 1); }
    if (start >= len || start > end || (m[1] === '' && Number(m[2]) === 0)) {
      res.writeHead(416, { 'content-range': `bytes */${len}`, 'content-length': 0 });
      res.end();
      return null;
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${end}/${len}`;
  }
  res.writeHead(status, file.chunked ? headers : { ...headers, 'content-length': end - start + 1 });
  if (req.method !== 'HEAD' && file.fault) {
    // Half the bytes, then either nothing more (stall) or the end of the connection (short of Content-Length).
    res.write(file.bytes.subarray(start, start + ((end - start + 1) >> 1)));
    if (file.fault === 'short') res.socket?.destroy();
    return null;
  }
  if (req.method !== 'HEAD' && len > file.bytes.length) return void streamVirtual(res, file.bytes, start, end), null;
  res.end(req.method === 'HEAD' ? undefined : file.bytes.subarray(start, end + 1));
  return null;
}

/** #fal-huge-<bytes>: the real bytes, then zeros up to the declared size, written as the reader takes them (never held). */
async function streamVirtual(res, bytes, start, end) {
  const zeros = Buffer.alloc(64 * 1024);
  let closed = false;
  res.on('close', () => { closed = true; });
  for (let at = start; at <= end && !closed;) {
    const chunk = at < bytes.length ? bytes.subarray(at, Math.min(bytes.length, end + 1)) : zeros.subarray(0, Math.min(zeros.length, end + 1 - at));
    at += chunk.length;
    // Whichever comes first; the other listener goes with it (left behind, they pile up on a long stream).
    if (!res.write(chunk)) {
      await new Promise((resolve) => {
        const done = () => { res.off('drain', done); res.off('close', done); resolve(undefined); };
        res.on('drain', done).on('close', done);
      });
    }
  }
  if (!closed) res.end();
}

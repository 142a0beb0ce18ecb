// Issue 19, videos and model names: OpenAI's documented requests run unchanged. OpenAI's own curl examples for the
// Videos API, replayed literally; `videos.create({model: 'sora-2', seconds: '12'})` with the real SDK; seconds and
// size read from the delivered MP4; a moving (estimated) progress from fal's queue; fal's start deadline; exact
// OpenAI model ids (a look-alike is a 404 before any hold); and property tests over the whole parameter space.
import fc from 'fast-check';
import OpenAI, { toFile } from 'openai';
import { describe, expect, it } from 'vitest';
import { resolveRoute, type Route } from '../src/catalog/resolve';
import { acceptedSeconds, OPENAI_MAX_SECONDS, planFrames, secondsString, videoCost } from '../src/catalog/video';
import { expectedSeconds, queuedProgress, runningProgress, RUNNING_MAX } from '../src/catalog/progress';
import { parseConfig } from '../src/config';
import { mp4Info, type ReadAt } from '../src/media/mp4';
import { VIDEO_HOLD_TTL_SEC, VIDEO_START_TIMEOUT_SEC } from '../src/pipeline/videos';
import { queuePosition } from '../src/providers/worker';
import { BASE, falOrigin, gateway, standinCalls, uniq, wavBytes, type Gateway } from './helpers';

type Video = OpenAI.Videos.Video & { url?: string; cost_micro?: number; billed_seconds?: string };
type ErrorBody = { error: { message: string; type: string; param: string | null; code: string } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const falSubmits = (prompt: string) => standinCalls(falOrigin(), (c) => c.method === 'POST' && (c.body as { prompt?: string } | null)?.prompt === prompt);

// ------------------------------------------------------------------------------------------ a literal curl

/**
 * Splits shell text the way sh does for these examples: words, '…' and "…" quoting, `\` escapes and line
 * continuations, $VAR / ${VAR} from `vars`, `# comments`; one command per unescaped newline; a `|` ends a command
 * (the examples pipe the answer to `jq .`, which only formats it).
 */
function shellCommands(text: string, vars: Record<string, string>): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word: string | null = null;
  let piped = false;
  const push = () => {
    if (word !== null && !piped) words.push(word);
    word = null;
  };
  const end = () => {
    push();
    if (words.length) commands.push(words);
    [words, piped] = [[], false];
  };
  const variable = (i: number): [string, number] => {
    const m = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/.exec(text.slice(i));
    if (!m) return ['$', i + 1];
    const name = m[1] ?? m[2]!;
    if (!(name in vars)) throw new Error(`$${name} is not set`);
    return [vars[name]!, i + m[0].length];
  };
  for (let i = 0; i < text.length; ) {
    const ch = text[i]!;
    if (ch === '\\' && text[i + 1] === '\n') i += 2;
    else if (ch === '\\') (word = (word ?? '') + (text[i + 1] ?? '')), (i += 2);
    else if (ch === '\n') end(), i++;
    else if (ch === ' ' || ch === '\t') push(), i++;
    else if (ch === '|') push(), (piped = true), i++;
    else if (ch === '#' && word === null) while (i < text.length && text[i] !== '\n') i++;
    else if (ch === "'") {
      const close = text.indexOf("'", i + 1);
      word = (word ?? '') + text.slice(i + 1, close);
      i = close + 1;
    } else if (ch === '"') {
      word ??= '';
      for (i++; text[i] !== '"'; ) {
        if (text[i] === '\\' && '"\\$`\n'.includes(text[i + 1]!)) (word += text[i + 1] === '\n' ? '' : text[i + 1]), (i += 2);
        else if (text[i] === '$') {
          const [v, next] = variable(i);
          (word += v), (i = next);
        } else (word += text[i]), i++;
      }
      i++;
    } else if (ch === '$') {
      const [v, next] = variable(i);
      (word = (word ?? '') + v), (i = next);
    } else (word = (word ?? '') + ch), i++;
  }
  end();
  return commands;
}

interface CurlRun {
  command: string[];
  res: Response;
  body: Uint8Array;
  /** what --output wrote, by file name */
  outputs: Record<string, Uint8Array>;
}

/**
 * Runs curl commands against the gateway exactly as curl would send them: -X, -H, -d (POST, form-urlencoded unless
 * a Content-Type is given), -F (multipart; `@file;type=…` uploads a file from `files`; an explicit
 * `Content-Type: multipart/form-data` gets its boundary, as curl adds it), -L (follows a redirect), --output.
 * `https://api.openai.com` is the gateway.
 */
async function curl(gw: Gateway, text: string, vars: Record<string, string>, files: Record<string, Uint8Array> = {}): Promise<CurlRun[]> {
  const runs: CurlRun[] = [];
  for (const command of shellCommands(text, vars)) {
    expect(command[0]).toBe('curl');
    let method: string | null = null;
    let url = '';
    let data: string | null = null;
    let output: string | null = null;
    let follow = false;
    const headers = new Headers();
    const form: [string, string | File][] = [];
    for (let i = 1; i < command.length; i++) {
      const a = command[i]!;
      const next = () => command[++i]!;
      if (a === '-X' || a === '--request') method = next();
      else if (a === '-H' || a === '--header') {
        const h = next();
        const colon = h.indexOf(':');
        headers.append(h.slice(0, colon).trim(), h.slice(colon + 1).trim());
      } else if (a === '-d' || a === '--data' || a === '--data-raw') data = next();
      else if (a === '-F' || a === '--form') {
        const f = next();
        const eq = f.indexOf('=');
        const [name, value] = [f.slice(0, eq), f.slice(eq + 1)];
        if (value.startsWith('@')) {
          const [path, ...params] = value.slice(1).split(';');
          const type = params.find((p) => p.startsWith('type='))?.slice(5) ?? 'application/octet-stream';
          const bytes = files[path!];
          if (!bytes) throw new Error(`no file ${path}`);
          form.push([name, new File([bytes], path!.split('/').pop()!, { type })]);
        } else form.push([name, value]);
      } else if (a === '-L' || a === '--location') follow = true;
      else if (a === '-o' || a === '--output') output = next();
      else if (a.startsWith('-')) throw new Error(`curl option ${a} is not replayed`);
      else url = a;
    }
    let body: BodyInit | undefined;
    if (form.length) {
      const fd = new FormData();
      for (const [k, v] of form) fd.append(k, v);
      body = fd;
      if (headers.get('content-type')?.trim() === 'multipart/form-data') headers.delete('content-type'); // the boundary is added below
    } else if (data !== null) {
      body = data;
      if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded');
    }
    const target = url.replace(/^https:\/\/api\.openai\.com/, BASE);
    let res = await gw.fetch(new Request(target, { method: method ?? (body ? 'POST' : 'GET'), headers, body }));
    if (follow && res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      const to = new URL(res.headers.get('location')!, target);
      res = to.origin === BASE ? await gw.fetch(to) : await fetch(to);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    runs.push({ command, res, body: bytes, outputs: output ? { [output]: bytes } : {} });
  }
  return runs;
}

const json = <T>(run: CurlRun) => JSON.parse(new TextDecoder().decode(run.body)) as T;

// ------------------------------------------------------------------------------------------ reading an MP4 here

/** What a player would see: the ftyp magic, an avc1 video track, its presentation size and the movie duration. */
function mp4Facts(b: Uint8Array) {
  const u32 = (i: number) => ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!;
  const type = (i: number) => String.fromCharCode(...b.subarray(i + 4, i + 8));
  const find = (start: number, end: number, t: string): [number, number] | null => {
    for (let i = start; i + 8 <= end; i += u32(i)) {
      if (u32(i) < 8) return null;
      if (type(i) === t) return [i + 8, i + u32(i)];
    }
    return null;
  };
  const path = (...types: string[]) => types.reduce<[number, number] | null>((at, t) => at && find(at[0], at[1], t), [0, b.length]);
  const tkhd = path('moov', 'trak', 'tkhd');
  const mvhd = path('moov', 'mvhd');
  const at = tkhd![0] + (b[tkhd![0]] === 1 ? 88 : 76);
  const [scale, duration] = b[mvhd![0]] === 1 ? [u32(mvhd![0] + 20), u32(mvhd![0] + 28)] : [u32(mvhd![0] + 12), u32(mvhd![0] + 16)];
  return {
    magic: type(0),
    codec: new TextDecoder().decode(b).includes('avc1') && path('moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd') !== null ? 'avc1' : null,
    size: `${Math.round(u32(at) / 65536)}x${Math.round(u32(at + 4) / 65536)}`,
    seconds: String(Math.round((duration * 1000) / scale) / 1000),
  };
}

/** A small baseline JPEG (64x36, 16:9), standing in for the guide's downloadable sample_720p.jpeg. */
const SAMPLE_JPEG = Uint8Array.from(
  atob(
    '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQH/wAARCAAkAEADAREAAhEAAxEA/8QAMQAAAAAMAAAAAAAAAAAAAAAAAAECAwQFBgcICQoLEAABAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIAAwAAPwCCcmQEC4uBnwBcDPiQNAM+ALgZ8SBcDPiQLgZ8AXAz4kEP5FQKcXAz4AuBnxIFwM+JAuBnwBcDPiQLgZ8SBcDPgEP5FQKcXAz4AuBnxIFwM+JAuBnwBoBnxIFwM+JAuBnwCH8ioFOLgZ8SBcDPgC4GfEgXAz4kC4GfAFwM+JAuBnwCH8ioFOLgZ8SBcDPgC4GfEgXAz4kC4GfAFwM+JA0Az4kH/9k=',
  ),
  (c) => c.charCodeAt(0),
);

async function pollDone(gw: Gateway, key: string, id: string): Promise<Video> {
  for (let i = 0; i < 80; i++) {
    const v = (await (await gw.authed(key, `/v1/videos/${id}`)).json()) as Video;
    if (v.status !== 'queued' && v.status !== 'in_progress') return v;
    await sleep(150);
  }
  throw new Error(`video ${id} never finished`);
}

// ------------------------------------------------------------------------------------------ OpenAI's examples

// Copied verbatim from OpenAI's API reference, Videos (https://developers.openai.com/api/reference/resources/videos:
// the HTTP examples of Create video, List videos, Retrieve video, Retrieve video content, Remix video, Delete video,
// Create a new video generation job by editing…, Create an extension…, Create a character…, Fetch a character).
const REFERENCE = {
  createJson: `curl https://api.openai.com/v1/videos \\
    -H 'Content-Type: application/json' \\
    -H "Authorization: Bearer $OPENAI_API_KEY" \\
    -d '{
          "prompt": "x"
        }'`,
  createForm: `curl https://api.openai.com/v1/videos \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -F "model=sora-2" \\
  -F "prompt=A calico cat playing a piano on stage"`,
  list: `curl https://api.openai.com/v1/videos \\
    -H "Authorization: Bearer $OPENAI_API_KEY"`,
  retrieve: `curl https://api.openai.com/v1/videos/$VIDEO_ID \\
    -H "Authorization: Bearer $OPENAI_API_KEY"`,
  content: `curl https://api.openai.com/v1/videos/$VIDEO_ID/content \\
    -H "Authorization: Bearer $OPENAI_API_KEY"`,
  remix: `curl https://api.openai.com/v1/videos/$VIDEO_ID/remix \\
    -H 'Content-Type: application/json' \\
    -H "Authorization: Bearer $OPENAI_API_KEY" \\
    -d '{
          "prompt": "x"
        }'`,
  remixExample: `curl -X POST https://api.openai.com/v1/videos/video_123/remix \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{
    "prompt": "Extend the scene with the cat taking a bow to the cheering audience"
  }'`,
  delete: `curl https://api.openai.com/v1/videos/$VIDEO_ID \\
    -X DELETE \\
    -H "Authorization: Bearer $OPENAI_API_KEY"`,
  edits: `curl https://api.openai.com/v1/videos/edits \\
    -H 'Content-Type: application/json' \\
    -H "Authorization: Bearer $OPENAI_API_KEY" \\
    -d '{
          "prompt": "x",
          "video": {
            "id": "video_123"
          }
        }'`,
  extensions: `curl https://api.openai.com/v1/videos/extensions \\
    -H 'Content-Type: application/json' \\
    -H "Authorization: Bearer $OPENAI_API_KEY" \\
    -d '{
          "prompt": "x",
          "seconds": "4",
          "video": {
            "id": "video_123"
          }
        }'`,
  createCharacter: `curl https://api.openai.com/v1/videos/characters \\
    -H 'Content-Type: multipart/form-data' \\
    -H "Authorization: Bearer $OPENAI_API_KEY" \\
    -F name=x \\
    -F 'video=@/path/to/video'`,
  getCharacter: `curl https://api.openai.com/v1/videos/characters/$CHARACTER_ID \\
    -H "Authorization: Bearer $OPENAI_API_KEY"`,
};

// Copied verbatim from OpenAI's guide "Video generation with Sora" (https://developers.openai.com/api/docs/guides/
// video-generation: Start a render job, Download the MP4, Download supporting assets, Use image references, Remix
// completed videos, Maintain your library). The first one ends in a line continuation, as published.
const GUIDE = {
  create: `curl -X POST "https://api.openai.com/v1/videos" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -H "Content-Type: multipart/form-data" \\
  -F prompt="Wide tracking shot of a teal coupe driving through a desert highway, heat ripples visible, hard sun overhead." \\
  -F model="sora-2-pro" \\
  -F size="1280x720" \\
  -F seconds="8" \\
`,
  download: `curl -L "https://api.openai.com/v1/videos/video_abc123/content" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  --output video.mp4`,
  assets: `# Download a thumbnail
curl -L "https://api.openai.com/v1/videos/video_abc123/content?variant=thumbnail" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  --output thumbnail.webp

# Download a spritesheet
curl -L "https://api.openai.com/v1/videos/video_abc123/content?variant=spritesheet" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  --output spritesheet.jpg`,
  imageReference: `curl -X POST "https://api.openai.com/v1/videos" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -H "Content-Type: multipart/form-data" \\
  -F prompt="She turns around and smiles, then slowly walks out of the frame." \\
  -F model="sora-2-pro" \\
  -F size="1280x720" \\
  -F seconds="8" \\
  -F input_reference="@sample_720p.jpeg;type=image/jpeg"`,
  remix: `curl -X POST "https://api.openai.com/v1/videos/<previous_video_id>/remix" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{
    "prompt": "Shift the color palette to teal, sand, and rust, with a warm backlight."
  }'`,
  list: `# default
curl "https://api.openai.com/v1/videos" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" | jq .`,
  listParams: `# with params
curl "https://api.openai.com/v1/videos?limit=20&after=video_123&order=asc" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" | jq .`,
  delete: `curl -X DELETE "https://api.openai.com/v1/videos/[REPLACE_WITH_YOUR_VIDEO_ID]" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" | jq .`,
};

/** The examples' placeholder ids (video_123, video_abc123, <previous_video_id>, [REPLACE_WITH_YOUR_VIDEO_ID]) → one of ours. */
const withId = (text: string, id: string) => text.replace(/video_123|video_abc123|<previous_video_id>|\[REPLACE_WITH_YOUR_VIDEO_ID\]/g, id);

describe("OpenAI's documented curl examples, replayed literally", () => {
  it('create (JSON and multipart, text and image reference), retrieve, content, list, remix and delete all run; the MP4s decode at the size and length the Video object says', async () => {
    // No watcher: only the examples' own retrieves settle a job, so the bill below is exactly theirs.
    const gw = gateway({ JOBS: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 20_000_000, rpm: 1000 });
    const env = { OPENAI_API_KEY: key };
    const files = { 'sample_720p.jpeg': SAMPLE_JPEG, '/path/to/video': new Uint8Array(16) };
    const statuses: number[] = [];
    const run = async (text: string, vars: Record<string, string> = {}) => {
      const runs = await curl(gw, text, { ...env, ...vars }, files);
      statuses.push(...runs.map((r) => r.res.status));
      return runs;
    };

    // Create: the reference's two bodies and the guide's two, all served (OpenAI's lengths on each route's grid).
    const [jsonCreate] = await run(REFERENCE.createJson);
    expect(jsonCreate!.res.status).toBe(200);
    expect(json<Video>(jsonCreate!)).toMatchObject({ object: 'video', status: 'queued', model: 'wan', seconds: '4.125', size: '1280x720', progress: 0 });
    const [formCreate] = await run(REFERENCE.createForm);
    const cat = json<Video>(formCreate!);
    expect(cat).toMatchObject({ status: 'queued', model: 'wan', seconds: '4.125' });
    const [guideCreate] = await run(GUIDE.create);
    const coupe = json<Video>(guideCreate!);
    expect(coupe).toMatchObject({ status: 'queued', model: 'wan', seconds: '7.875', size: '1280x720' }); // "8" → 126 frames (12k+6)
    const [imageCreate] = await run(GUIDE.imageReference);
    const smile = json<Video>(imageCreate!);
    expect(smile).toMatchObject({ status: 'queued', model: 'wan', seconds: '8.063', size: '1280x720' }); // "8" → 129 frames (4k+1), to the ms
    expect(imageCreate!.res.headers.get('openai-poll-after-ms')).toBe('2000');
    const [i2v] = (await falSubmits('She turns around and smiles, then slowly walks out of the frame.')).slice(-1);
    expect(i2v!.path).toBe('/fal/queue/fal-ai/wan/v2.2-a14b/image-to-video');
    expect(i2v!.body).toMatchObject({ num_frames: 129, aspect_ratio: '16:9', resolution: '720p', image_url: expect.stringMatching(/^data:image\/jpeg;base64,/) });

    // Retrieve until each is done: the sizes and lengths are the delivered files'.
    const done: Record<string, Video> = {};
    for (const v of [cat, coupe, smile]) {
      for (let i = 0; i < 80; i++) {
        const [r] = await run(REFERENCE.retrieve, { VIDEO_ID: v.id });
        const now = json<Video>(r!);
        expect(now.progress).toBeGreaterThanOrEqual(0);
        if (now.status === 'completed') {
          done[v.id] = now;
          break;
        }
        expect(['queued', 'in_progress']).toContain(now.status);
        expect(now.progress).toBeLessThan(100);
        await sleep(150);
      }
    }
    expect(done[cat.id]).toMatchObject({ status: 'completed', progress: 100, seconds: '4.125', size: '832x480', cost_micro: 363_000 });
    expect(done[coupe.id]).toMatchObject({ seconds: '7.875', size: '832x480', cost_micro: 693_000 });
    expect(done[smile.id]).toMatchObject({ seconds: '8.063', size: '1280x720', cost_micro: 709_500 });

    // Content: the reference's download and the guide's (-L, --output video.mp4) are MP4s a player decodes.
    const [content] = await run(REFERENCE.content, { VIDEO_ID: cat.id });
    expect(content!.res.status).toBe(200);
    expect(content!.res.headers.get('content-type')).toBe('video/mp4');
    expect(mp4Facts(content!.body)).toEqual({ magic: 'ftyp', codec: 'avc1', size: '832x480', seconds: '4.125' });
    const [download] = await run(withId(GUIDE.download, smile.id));
    expect(mp4Facts(download!.outputs['video.mp4']!)).toEqual({ magic: 'ftyp', codec: 'avc1', size: done[smile.id]!.size, seconds: done[smile.id]!.seconds });
    // Thumbnails and spritesheets are not made here: a 400 naming `variant`, not a 5xx or a wrong file.
    for (const r of await run(withId(GUIDE.assets, smile.id))) {
      expect(r.res.status).toBe(400);
      expect(json<ErrorBody>(r).error).toMatchObject({ param: 'variant', code: 'invalid_request' });
    }

    // List: every video, newest first; `after` pages.
    for (const text of [REFERENCE.list, GUIDE.list]) {
      const [list] = await run(text);
      const page = json<{ object: string; data: Video[]; has_more: boolean }>(list!);
      expect(page.object).toBe('list');
      expect(page.data.map((v) => v.id)).toEqual(expect.arrayContaining([json<Video>(jsonCreate!).id, cat.id, coupe.id, smile.id]));
    }
    const [paged] = await run(withId(GUIDE.listParams, json<Video>(jsonCreate!).id));
    expect(paged!.res.status).toBe(200);
    expect(json<{ data: Video[] }>(paged!).data.map((v) => v.id)).not.toContain(json<Video>(jsonCreate!).id);

    // Remix: three new jobs from the cat video, each its length and size, pointing back.
    const remixes = [
      ...(await run(withId(REFERENCE.remixExample, cat.id))),
      ...(await run(REFERENCE.remix, { VIDEO_ID: cat.id })),
      ...(await run(withId(GUIDE.remix, cat.id))),
    ].map((r) => json<Video>(r));
    for (const r of remixes) expect(r).toMatchObject({ status: 'queued', model: 'wan', seconds: '4.125', size: '1280x720', remixed_from_video_id: cat.id });

    // Delete: the reference's and the guide's.
    const [deleted] = await run(REFERENCE.delete, { VIDEO_ID: remixes[0]!.id });
    expect(json(deleted!)).toEqual({ id: remixes[0]!.id, object: 'video.deleted', deleted: true });
    const [guideDeleted] = await run(withId(GUIDE.delete, json<Video>(jsonCreate!).id));
    expect(json(guideDeleted!)).toEqual({ id: json<Video>(jsonCreate!).id, object: 'video.deleted', deleted: true });

    // What this gateway does not serve (edits, extensions, characters) is a clear 404 in OpenAI's envelope.
    for (const text of [REFERENCE.edits, REFERENCE.extensions, REFERENCE.createCharacter, REFERENCE.getCharacter]) {
      const [r] = await run(text, { CHARACTER_ID: 'char_123' });
      expect(r!.res.status).toBe(404);
      expect(json<ErrorBody>(r!).error).toMatchObject({ code: 'unsupported_endpoint', type: expect.any(String) });
    }

    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    // Billed exactly what was delivered for the three finished videos; the rest is held or released.
    const money = await gw.balance(account);
    expect(money.spent_micro).toBe(363_000 + 693_000 + 709_500);
  });
});

// ------------------------------------------------------------------------------------------ the real SDK

describe('the openai SDK, unchanged', () => {
  it("videos.create({model: 'sora-2', seconds: '12'}) is served: clamped to the route's 10.125 s, held and billed for what is made", async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 2_000_000 });
    const client = gw.openai(key);
    const prompt = uniq('a lighthouse at dusk, sora-2 twelve seconds');
    const created = (await client.videos.create({ model: 'sora-2', prompt, seconds: '12' })) as Video;
    expect(created).toMatchObject({ object: 'video', status: 'queued', model: 'wan', seconds: '10.125', progress: 0, error: null });
    expect(await gw.balance(account)).toMatchObject({ held_micro: 891_000 }); // 162 frames / 16 fps × 88 000
    const [submit] = await falSubmits(prompt);
    expect(submit!.body).toMatchObject({ num_frames: 162 });
    // fal's start deadline: the job's own (VIDEO_JOB_DEADLINE_SEC, 1 h), never past 5 h (the 6 h hold less an hour
    // to run), so work the gateway would abandon never starts.
    expect(submit!.headers['x-fal-request-timeout']).toBe('3600');
    expect(VIDEO_START_TIMEOUT_SEC).toBe(18_000);
    expect(VIDEO_START_TIMEOUT_SEC).toBeLessThan(VIDEO_HOLD_TTL_SEC);

    let video = created;
    while (video.status === 'queued' || video.status === 'in_progress') {
      await sleep(100);
      video = (await client.videos.retrieve(created.id)) as Video;
    }
    expect(video).toMatchObject({ status: 'completed', seconds: '10.125', size: '832x480', billed_seconds: '10.125', cost_micro: 891_000 });
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 2_000_000 - 891_000, held_micro: 0, charges: 1 });
    const bytes = new Uint8Array(await (await client.videos.downloadContent(created.id)).arrayBuffer());
    expect(mp4Facts(bytes)).toEqual({ magic: 'ftyp', codec: 'avc1', size: '832x480', seconds: '10.125' });
  });

  it("every OpenAI size with an image: the Video object's size is the delivered picture's (720p at most on fal)", async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key } = await gw.issueKey({ credits_micro: 10_000_000, rpm: 1000 });
    const client = gw.openai(key);
    const made = { '720x1280': '720x1280', '1280x720': '1280x720', '1024x1792': '720x1280', '1792x1024': '1280x720' } as const;
    const ids = await Promise.all(
      (Object.keys(made) as (keyof typeof made)[]).map(async (size, i) => {
        const model = i % 2 ? 'sora-2-pro' : 'sora-2';
        const v = await client.videos.create({ model, prompt: uniq(`size ${size}`), size, seconds: '4', input_reference: await toFile(SAMPLE_JPEG, 'ref.jpeg', { type: 'image/jpeg' }) });
        expect(v).toMatchObject({ status: 'queued', size, seconds: '4.063' });
        return [size, v.id] as const;
      }),
    );
    for (const [size, id] of ids) expect(await pollDone(gw, key, id)).toMatchObject({ status: 'completed', size: made[size], seconds: '4.063' });
  });

  it('the free tier reports its worker file too: seconds "12" → 161 frames at 16 fps, at the asked size', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key } = await gw.issueKey({ tier: 'test', rpm: 100 });
    const v = (await gw.openai(key).videos.create({ model: 'sora-2', prompt: uniq('worker twelve'), seconds: '12', size: '720x1280' })) as Video;
    expect(v).toMatchObject({ status: 'queued', seconds: '10.063', size: '720x1280' });
    expect(await pollDone(gw, key, v.id)).toMatchObject({ status: 'completed', seconds: '10.063', size: '720x1280', cost_micro: 0 });
  });
});

// ------------------------------------------------------------------------------------------ progress, start deadline

describe('progress moves, and work nobody would collect never starts', () => {
  it("queued: 0–10 from fal's queue_position; in progress: a time estimate below 100; completed: 100 — never backwards", async () => {
    // No watcher: only this test's polls advance the stand-in's queue.
    const gw = gateway({ MEDIA: undefined, JOBS: undefined });
    const { key } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    const { id } = (await (await gw.authed(key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'sora-2', prompt: `${uniq('queue')} #fal-queue-3 #fal-slow` }) })).json()) as Video;
    const seen: [string, number][] = [];
    for (let i = 0; i < 80; i++) {
      const v = (await (await gw.authed(key, `/v1/videos/${id}`)).json()) as Video;
      seen.push([v.status, v.progress]);
      if (v.status === 'completed') break;
      await sleep(50);
    }
    const queued = seen.filter(([s]) => s === 'queued').map(([, p]) => p);
    const running = seen.filter(([s]) => s === 'in_progress').map(([, p]) => p);
    // Positions 3, 2, 1, 0 (one per poll) → 7, 8, 9, 10, for as many polls as came before the clock ran out.
    expect(queued).toEqual([7, 8, 9, 10].slice(0, queued.length));
    for (const p of running) expect(p).toBeGreaterThanOrEqual(10), expect(p).toBeLessThanOrEqual(RUNNING_MAX);
    expect(seen.at(-1)).toEqual(['completed', 100]);
    const all = seen.map(([, p]) => p);
    expect(all).toEqual([...all].sort((a, b) => a - b));
    expect(queued.length + running.length).toBeGreaterThan(0);
  });

  it('a job fal cannot start before its deadline ends failed (fal 504, unbilled): its hold released, nothing charged', async () => {
    const gw = gateway({ MEDIA: undefined });
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const prompt = `${uniq('no runner')} #fal-start-timeout`;
    const { id } = (await (await gw.authed(key, '/v1/videos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt, seconds: '4' }) })).json()) as Video;
    expect((await gw.balance(account)).held_micro).toBe(363_000);
    expect((await falSubmits(prompt))[0]!.headers['x-fal-request-timeout']).toBe('3600');
    const v = await pollDone(gw, key, id);
    expect(v).toMatchObject({ status: 'failed', error: { code: 'upstream_timeout' } });
    expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, held_micro: 0, charges: 0 });
  });

  it('the estimate: queue position → 0..10, elapsed time → 10..95 against the route’s expected render time', () => {
    expect([undefined, -1, 0, 1, 9, 10, 50].map(queuedProgress)).toEqual([0, 0, 10, 9, 1, 0, 0]);
    const job = { p: 'fal', m: 'wan', x: 0, f: 66, fps: 16, t: 1_000 };
    expect(expectedSeconds(job)).toBeCloseTo(15 + 3 * 4.125);
    fc.assert(
      fc.property(fc.nat(100_000), fc.nat(100_000), (a, b) => {
        const [early, late] = [Math.min(a, b), Math.max(a, b)].map((s) => runningProgress(job, (job.t + s) * 1000));
        expect(early).toBeGreaterThanOrEqual(10);
        expect(late).toBeGreaterThanOrEqual(early!);
        expect(late).toBeLessThanOrEqual(RUNNING_MAX);
      }),
    );
    expect(runningProgress(job, (job.t + 1_000_000) * 1000)).toBe(RUNNING_MAX);
    // ComfyUI's queue_pending items are [number, prompt_id, …], run in number order.
    const pending = [[12, 'c'], [10, 'a'], [11, 'b'], 'junk', [9]];
    expect(['a', 'b', 'c', 'z'].map((id) => queuePosition(pending, id))).toEqual([{ position: 0 }, { position: 1 }, { position: 2 }, {}]);
  });
});

// ------------------------------------------------------------------------------------------ model names

describe("OpenAI's model ids are exact", () => {
  it('a made-up name (dall-e-9000x, sora-2-ultra) is a 404 model_not_found before any hold: nothing sent upstream, nothing charged', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000 });
    const client = gw.openai(key, { maxRetries: 0 });
    const before = await gw.balance(account);
    const prompts: string[] = [];
    for (const [model, call] of [
      ['dall-e-9000x', (prompt: string) => client.images.generate({ model: 'dall-e-9000x', prompt })],
      ['gpt-image-3', (prompt: string) => client.images.generate({ model: 'gpt-image-3', prompt })],
      ['sora-2-ultra', (prompt: string) => client.videos.create({ model: 'sora-2-ultra', prompt, seconds: '4' })],
      ['sora-3', (prompt: string) => client.videos.create({ model: 'sora-3', prompt })],
    ] as const) {
      const prompt = uniq(`unknown ${model}`);
      prompts.push(prompt);
      const err = (await call(prompt).then(() => null, (e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err?.status, model).toBe(404);
      expect(err.error).toMatchObject({ code: 'model_not_found', param: 'model' });
    }
    expect(await gw.balance(account)).toEqual(before);
    const upstream = await standinCalls(falOrigin(), (c) => prompts.some((p) => JSON.stringify(c.body ?? '').includes(p)));
    expect(upstream).toEqual([]);
  });

  it('every SDK video id is served as wan, with its OpenAI owner on /v1/models', async () => {
    const gw = gateway();
    const models = (await (await gw.fetch('/v1/models')).json()) as { data: { id: string; owned_by: string; resolves_to?: string }[] };
    for (const id of ['sora-2', 'sora-2-pro', 'sora-2-2025-10-06', 'sora-2-pro-2025-10-06', 'sora-2-2025-12-08']) {
      expect(models.data.find((m) => m.id === id)).toMatchObject({ owned_by: 'openai', resolves_to: 'wan' });
    }
    for (const id of ['gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5', 'gpt-image-2', 'chatgpt-image-latest', 'dall-e-2', 'dall-e-3']) {
      expect(models.data.find((m) => m.id === id)).toMatchObject({ owned_by: 'openai', resolves_to: 'krea-2' });
    }
  });
});

// ------------------------------------------------------------------------------------------ the parameter space

const SDK_VIDEO_MODELS = ['sora-2', 'sora-2-pro', 'sora-2-2025-10-06', 'sora-2-pro-2025-10-06', 'sora-2-2025-12-08'];
const OPENAI_SIZES = ['720x1280', '1280x720', '1024x1792', '1792x1024'];
const PARAMS = new Set(['prompt', 'model', 'seconds', 'frames', 'size', 'seed', 'image_url', 'audio_url', 'input_reference', 'input_reference.image_url', 'audio']);

describe('property: every combination is served or refused naming a parameter, never a 5xx, never a charge for a refusal', () => {
  // Weighted towards what OpenAI's clients send, with every kind of wrong value mixed in.
  const request = fc.record({
    model: fc.option(
      fc.oneof(
        { arbitrary: fc.constantFrom(...SDK_VIDEO_MODELS), weight: 3 },
        { arbitrary: fc.constantFrom('wan', 'bernini', 'avatar', 'infinitalk', 'SORA-2'), weight: 1 },
        { arbitrary: fc.constantFrom('krea-2', 'gpt-image-1', 'sora-3', 'dall-e-9000x', 'sora-2-ultra'), weight: 1 },
      ),
      { nil: undefined },
    ),
    seconds: fc.option(
      fc.oneof(
        { arbitrary: fc.constantFrom('4', '8', '12', 4, 8, 12), weight: 4 },
        { arbitrary: fc.integer({ min: -3, max: 35 }), weight: 2 },
        { arbitrary: fc.double({ min: 0, max: 40, noNaN: true }), weight: 1 },
        { arbitrary: fc.constantFrom('0', '13', '29', 'four', ' 12 ', '1e1', '-4'), weight: 1 },
      ),
      { nil: undefined },
    ),
    size: fc.option(
      fc.oneof({ arbitrary: fc.constantFrom(...OPENAI_SIZES, '1920x1088'), weight: 5 }, { arbitrary: fc.constantFrom('1000x1000', '16x16', 'auto', '720X1280', ''), weight: 1 }),
      { nil: undefined },
    ),
    image: fc.boolean(),
    audio: fc.boolean(),
    multipart: fc.boolean(),
    tier: fc.constantFrom('paid', 'test'),
  });

  it('through the gateway, with the balance checked around every request', async () => {
    const gw = gateway({ MEDIA: undefined, JOBS: undefined });
    const cfg = parseConfig(gw.env);
    const paid = await gw.issueKey({ credits_micro: 50_000_000, rpm: 10_000 });
    const test = await gw.issueKey({ tier: 'test', rpm: 10_000 });
    const served: [string, string][] = [];
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const who = r.tier === 'paid' ? paid : test;
        const prompt = uniq('property');
        const fields: Record<string, string | number> = { prompt };
        if (r.model !== undefined) fields.model = r.model;
        if (r.seconds !== undefined) fields.seconds = r.seconds;
        if (r.size !== undefined) fields.size = r.size;
        let init: RequestInit;
        if (r.multipart || r.image || r.audio) {
          const form = new FormData();
          for (const [k, v] of Object.entries(fields)) form.append(k, String(v));
          if (r.image) form.append('input_reference', new File([SAMPLE_JPEG], 'ref.jpeg', { type: 'image/jpeg' }));
          if (r.audio) form.append('audio', new File([wavBytes(200)], 'voice.wav', { type: 'audio/wav' }));
          init = { method: 'POST', body: form };
        } else init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields) };
        // The free tier's shared account also counts other files' $0 usage meanwhile: its money is what is compared.
        const money = async () => {
          const b = await gw.balance(who.account);
          return r.tier === 'paid' ? b : { balance_micro: b.balance_micro, held_micro: b.held_micro };
        };
        const before = await money();
        const res = await gw.authed(who.key, '/v1/videos', init);
        const body = (await res.json()) as Video & ErrorBody;
        const after = await money();
        expect(res.status, JSON.stringify({ r, body })).toBeLessThan(500);
        if (res.status === 200) {
          // Served: exactly the planned hold, and seconds on the route's grid.
          const route: Route = resolveRoute({ model: r.model, kind: 'video', hasImage: r.image, hasAudio: r.audio }, r.tier, cfg, cfg.PRICE_MARGIN_BPS);
          const asked = r.seconds === undefined ? undefined : Number(String(r.seconds).trim());
          const plan = planFrames(route, r.image, { seconds: asked });
          expect(body).toMatchObject({ object: 'video', status: 'queued', model: route.canonical, seconds: secondsString(plan) });
          expect(after.held_micro - before.held_micro).toBe(videoCost(route.unitMicro, plan));
          expect(after.balance_micro).toBe(before.balance_micro);
          served.push([who.key, body.id]);
        } else {
          // Refused: a 400 naming the parameter, or the 404 for a model name; nothing held, nothing charged.
          expect([400, 404], JSON.stringify({ r, body })).toContain(res.status);
          if (res.status === 404) expect(body.error).toMatchObject({ code: 'model_not_found', param: 'model' });
          expect(PARAMS, JSON.stringify({ r, body })).toContain(body.error.param);
          expect(after).toEqual(before);
        }
      }),
      { numRuns: 80 },
    );
    expect(served.length).toBeGreaterThan(0);
    // Deleting what was served releases every hold: the property leaves the account as it found it.
    for (const [key, id] of served) expect((await gw.authed(key, `/v1/videos/${id}`, { method: 'DELETE' })).status).toBe(200);
    expect(await gw.balance(paid.account)).toMatchObject({ balance_micro: 50_000_000, held_micro: 0, charges: 0 });
  });

  it('the frame plan: every accepted length is on the grid and within the route; OpenAI\'s lengths work on every route', () => {
    const cfg = parseConfig(gateway().env);
    const routes = (['paid', 'test'] as const).flatMap((tier) =>
      ([[false, false], [true, false], [true, true]] as const).map(([hasImage, hasAudio]) => ({ route: resolveRoute({ kind: 'video', hasImage, hasAudio }, tier, cfg, cfg.PRICE_MARGIN_BPS), hasImage })),
    );
    for (const { route, hasImage } of routes) {
      for (const s of ['4', '8', '12']) expect(() => planFrames(route, hasImage, { seconds: Number(s) })).not.toThrow();
      expect(acceptedSeconds(route, hasImage).max).toBeGreaterThanOrEqual(OPENAI_MAX_SECONDS);
    }
    fc.assert(
      fc.property(fc.constantFrom(...routes), fc.double({ min: -5, max: 60, noNaN: true }), ({ route, hasImage }, seconds) => {
        const { min, max } = acceptedSeconds(route, hasImage);
        if (seconds < min || seconds > max) {
          expect(() => planFrames(route, hasImage, { seconds })).toThrow(expect.objectContaining({ status: 400, param: 'seconds' }));
          return;
        }
        const plan = planFrames(route, hasImage, { seconds });
        const longest = planFrames(route, hasImage, { seconds: max });
        expect(plan.frames).toBeLessThanOrEqual(longest.frames);
        expect(() => planFrames(route, hasImage, { frames: plan.frames })).not.toThrow(); // on the model's frame grid
        // Clamped only where the route is shorter than asked; otherwise within one grid step of the ask.
        if (seconds * plan.fps <= longest.frames) expect(Math.abs(plan.frames - seconds * plan.fps)).toBeLessThanOrEqual(12);
        else expect(plan.frames).toBe(longest.frames);
      }),
    );
  });
});

// ------------------------------------------------------------------------------------------ the MP4 probe's size

const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), (at += p.length);
  return out;
};
const be32 = (n: number) => new Uint8Array([n >>> 24, n >>> 16, n >>> 8, n].map((x) => x & 0xff));
const be16 = (n: number) => new Uint8Array([(n >>> 8) & 0xff, n & 0xff]);
const ascii = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
const box = (type: string, ...parts: Uint8Array[]) => cat(be32(8 + parts.reduce((n, p) => n + p.length, 0)), ascii(type), ...parts);
const full = (type: string, version: number, ...parts: Uint8Array[]) => box(type, be32(version << 24), ...parts);
const IDENTITY = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000];
const ROT90 = [0, 0x10000, 0, -0x10000 >>> 0, 0, 0, 0, 0, 0x40000000];

function movie(tracks: Uint8Array[], ms = 4000) {
  return cat(box('ftyp', ascii('isom'), be32(0x200), ascii('isomavc1')), box('moov', full('mvhd', 0, be32(0), be32(0), be32(1000), be32(ms), new Uint8Array(80)), ...tracks));
}
function track(handler: string, w: number, h: number, opts: { matrix?: number[]; version?: 0 | 1; entry?: [number, number]; short?: boolean } = {}) {
  const { matrix = IDENTITY, version = 0, entry = [64, 64] } = opts;
  const times = version === 1 ? [new Uint8Array(16), be32(1), be32(0), new Uint8Array(8)] : [new Uint8Array(8), be32(1), be32(0), be32(0)];
  const tail = cat(new Uint8Array(8), be16(0), be16(0), be16(0), be16(0), ...matrix.map(be32), be32(w * 65536), be32(h * 65536));
  const tkhd = full('tkhd', version, ...times, opts.short ? tail.subarray(0, 20) : tail);
  const sample = box('avc1', new Uint8Array(6), be16(1), new Uint8Array(16), be16(entry[0]), be16(entry[1]), new Uint8Array(50));
  const stbl = box('stbl', full('stsd', 0, be32(1), sample));
  return box('trak', tkhd, box('mdia', full('mdhd', 0, be32(0), be32(0), be32(1000), be32(4000), be16(0x55c4), be16(0)), full('hdlr', 0, be32(0), ascii(handler), new Uint8Array(12), ascii('h\0')), box('minf', stbl)));
}
const readerOf = (file: Uint8Array): ReadAt => async (offset, length) => (offset >= file.length ? null : file.subarray(offset, offset + length));

describe('mp4Info: the picture size from the same moov as the duration', () => {
  it('tkhd of the first video track; turned by a quarter-turn matrix; stsd when tkhd says 0; none without a video track', async () => {
    expect(await mp4Info(readerOf(movie([track('vide', 832, 480)])))).toEqual({ durationMs: 4000, size: { width: 832, height: 480 } });
    expect((await mp4Info(readerOf(movie([track('soun', 0, 0), track('vide', 1280, 720, { version: 1 })]))))!.size).toEqual({ width: 1280, height: 720 });
    expect((await mp4Info(readerOf(movie([track('vide', 1920, 1080, { matrix: ROT90 })]))))!.size).toEqual({ width: 1080, height: 1920 });
    expect((await mp4Info(readerOf(movie([track('vide', 0, 0, { entry: [640, 360] })]))))!.size).toEqual({ width: 640, height: 360 });
    expect(await mp4Info(readerOf(movie([track('soun', 0, 0)])))).toEqual({ durationMs: 4000, size: null });
    // A short track header costs the size, not the duration.
    expect(await mp4Info(readerOf(movie([track('vide', 832, 480, { short: true })])))).toEqual({ durationMs: 4000, size: null });
    expect(await mp4Info(readerOf(new Uint8Array(0)))).toBeNull();
  });

  it('any size round-trips, and any bytes give an answer or null, never a throw', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 16_384 }), fc.integer({ min: 1, max: 16_384 }), async (w, h) => {
        expect((await mp4Info(readerOf(movie([track('vide', w, h)]))))!.size).toEqual({ width: w, height: h });
      }),
    );
    const good = movie([track('vide', 832, 480)]);
    await fc.assert(
      fc.asyncProperty(fc.nat(good.length - 1), fc.nat(255), async (at, byte) => {
        const bad = good.slice();
        bad[at] = byte;
        const info = await mp4Info(readerOf(bad));
        if (info?.size) expect(info.size.width * info.size.height).toBeGreaterThan(0);
      }),
    );
  });
});

// An instant fal sync runner for measuring the gateway's own cost (scripts/bench.mjs): POST <prefix>/run/<endpoint>
// with `Authorization: Key <key>` answers 200 at once with the documented text-to-image result shape
// (docs/reference/fal.md: {images:[{url,width,height,content_type}], seed, has_nsfw_concepts, prompt, timings}),
// the prompt echoed. No file behind the URL: the image is never fetched by a gateway that passes URLs through (no R2).
// Anything else: 401 without the key, 404 off the run path, 422 without a prompt. 127.0.0.1 only, node: builtins only.
import { createServer } from 'node:http';

/** @returns {Promise<{ origin: string, runUrl: string, close(): Promise<void> }>} */
export async function startInstantFal({ key }) {
  let origin = '';
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const send = (status, body) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (req.method !== 'POST' || !req.url.startsWith('/run/')) return send(404, { detail: 'Not Found' });
      if (req.headers.authorization !== `Key ${key}`) return send(401, { detail: 'Invalid API key' });
      let input;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return send(422, { detail: [{ loc: ['body'], msg: 'invalid json', type: 'value_error.jsondecode' }] });
      }
      if (typeof input?.prompt !== 'string' || !input.prompt) return send(422, { detail: [{ loc: ['body', 'prompt'], msg: 'field required', type: 'value_error.missing' }] });
      const format = input.output_format === 'jpeg' ? 'jpeg' : 'png';
      const n = Number.isInteger(input.num_images) ? input.num_images : 1;
      send(200, {
        images: Array.from({ length: n }, (_, i) => ({ url: `${origin}/files/instant-${i}.${format === 'jpeg' ? 'jpg' : 'png'}`, width: 1024, height: 1024, content_type: `image/${format}` })),
        timings: { inference: 0 },
        seed: 42,
        has_nsfw_concepts: Array.from({ length: n }, () => false),
        prompt: input.prompt,
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, runUrl: `${origin}/run`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

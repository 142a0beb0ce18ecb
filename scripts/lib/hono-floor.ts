// The bare Hono pass-through the bench compares the gateway with (issue 23): the same framework preset
// (hono/tiny), built the same way (wrangler deploy --dry-run --minify, wrangler.toml's compatibility settings), on
// the same workerd. It does what any gateway must for a text-to-image request and nothing else: parse the JSON
// body, call fal's sync runner, parse the answer, answer OpenAI-shaped JSON. No auth, ledger, validation or logs.
import { Hono } from 'hono/tiny';

type Env = { Bindings: { FAL_RUN_URL: string; FAL_KEY: string } };

const app = new Hono<Env>();
app.post('/v1/images/generations', async (c) => {
  const { prompt } = await c.req.json<{ prompt: string }>();
  const res = await fetch(`${c.env.FAL_RUN_URL}/fal-ai/flux/krea`, {
    method: 'POST',
    headers: { authorization: `Key ${c.env.FAL_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt, image_size: 'square_hd', num_images: 1, output_format: 'png' }),
  });
  const out = await res.json<{ images: { url: string }[] }>();
  return c.json({ created: Math.floor(Date.now() / 1000), data: out.images.map((i) => ({ url: i.url })) });
});

export default app;

import { describe, expect, it } from 'vitest';
import { resolveRoute, type FalModels } from '../src/catalog/resolve';
import { gateway } from './helpers';

const FAL: FalModels = {
  FAL_IMAGE_MODEL: 'fal-ai/flux/krea',
  FAL_VIDEO_MODEL: 'fal-ai/krea-wan-14b/text-to-video',
  FAL_VIDEO_I2V_MODEL: 'fal-ai/wan/v2.2-a14b/image-to-video',
  FAL_AVATAR_MODEL: 'fal-ai/infinitalk',
  FAL_IMAGE_EDIT_MODEL: 'fal-ai/flux-1/krea/image-to-image',
};

describe('resolver table', () => {
  it.each([
    // model, kind, tier, image, audio → canonical, provider, endpoint, unit price
    ['krea-2', 'image', 'paid', false, false, 'krea-2', 'fal', 'fal-ai/flux/krea', 33_000],
    [undefined, 'image', 'paid', false, false, 'krea-2', 'fal', 'fal-ai/flux/krea', 33_000],
    ['KREA', 'image', 'paid', false, false, 'krea-2', 'fal', 'fal-ai/flux/krea', 33_000],
    ['krea-2', 'image', 'test', false, false, 'krea-2', 'worker', 'krea-2', 0],
    ['wan', 'video', 'paid', false, false, 'wan', 'fal', 'fal-ai/krea-wan-14b/text-to-video', 88_000],
    [undefined, 'video', 'paid', false, false, 'wan', 'fal', 'fal-ai/krea-wan-14b/text-to-video', 88_000],
    ['wan', 'video', 'paid', true, false, 'wan', 'fal', 'fal-ai/wan/v2.2-a14b/image-to-video', 88_000],
    ['bernini', 'video', 'test', false, false, 'wan', 'worker', 'bernini', 0],
    ['wan', 'video', 'test', true, false, 'wan', 'worker', 'bernini-i2v', 0],
    [undefined, 'video', 'paid', true, true, 'avatar', 'fal', 'fal-ai/infinitalk', 220_000],
    ['wan', 'video', 'paid', true, true, 'avatar', 'fal', 'fal-ai/infinitalk', 220_000],
    ['bernini', 'video', 'test', true, true, 'avatar', 'worker', 'infinitetalk', 0],
    ['avatar', 'video', 'paid', true, true, 'avatar', 'fal', 'fal-ai/infinitalk', 220_000],
  ] as const)('%s %s %s image=%s audio=%s → %s via %s %s @ %i', (model, kind, tier, hasImage, hasAudio, canonical, provider, endpoint, price) => {
    expect(resolveRoute({ model, kind, hasImage, hasAudio }, tier, FAL, 1000)).toEqual({
      canonical,
      provider,
      endpoint,
      unit: kind === 'image' ? 'image' : 'second',
      unitMicro: price,
    });
  });

  it('honours env-overridden fal endpoint ids and the margin', () => {
    const fal = { ...FAL, FAL_IMAGE_MODEL: 'fal-ai/flux-1/krea', FAL_VIDEO_I2V_MODEL: 'fal-ai/other/i2v' };
    expect(resolveRoute({ kind: 'image' }, 'paid', fal, 2500).endpoint).toBe('fal-ai/flux-1/krea');
    expect(resolveRoute({ kind: 'image' }, 'paid', fal, 2500).unitMicro).toBe(37_500);
    expect(resolveRoute({ kind: 'video', hasImage: true }, 'paid', fal, 0)).toMatchObject({ endpoint: 'fal-ai/other/i2v', unitMicro: 80_000 });
  });

  it('paid never reaches the worker and test never reaches fal', () => {
    for (const model of ['krea-2', 'wan', 'avatar', 'bernini', undefined]) {
      for (const [hasImage, hasAudio] of [[true, true], [true, false]] as const) {
        const kind = model === 'krea-2' ? 'image' : 'video';
        if (model === 'avatar' && !hasAudio) continue;
        expect(resolveRoute({ model, kind, hasImage, hasAudio }, 'paid', FAL, 1000).provider).toBe('fal');
        expect(resolveRoute({ model, kind, hasImage, hasAudio }, 'test', FAL, 1000).provider).toBe('worker');
      }
    }
  });

  it('rejects avatar without an image or audio, wrong kinds, and unknown models', () => {
    expect(() => resolveRoute({ model: 'avatar', kind: 'video', hasAudio: true }, 'paid', FAL, 0)).toThrow(expect.objectContaining({ status: 400, param: 'image_url' }));
    expect(() => resolveRoute({ model: 'avatar', kind: 'video', hasImage: true }, 'paid', FAL, 0)).toThrow(expect.objectContaining({ status: 400, param: 'audio_url' }));
    expect(() => resolveRoute({ model: 'krea-2', kind: 'video' }, 'paid', FAL, 0)).toThrow(expect.objectContaining({ status: 400, param: 'model' }));
    expect(() => resolveRoute({ model: 'veo-3', kind: 'video' }, 'paid', FAL, 0)).toThrow(expect.objectContaining({ status: 404, code: 'model_not_found' }));
    // OpenAI's names are exact: a look-alike is as unknown as any other name.
    for (const model of ['dall-e-9000x', 'gpt-image-9', 'sora-2-ultra']) {
      const kind = model.startsWith('sora') ? 'video' : 'image';
      expect(() => resolveRoute({ model, kind }, 'paid', FAL, 0)).toThrow(expect.objectContaining({ status: 404, code: 'model_not_found', param: 'model' }));
    }
  });
});

describe('models and pricing endpoints', () => {
  it('GET /v1/models lists the canonical models in the OpenAI shape, then every alias with who names it and what it runs', async () => {
    const res = await gateway().fetch('/v1/models');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; data: { id: string; object: string; created: number; owned_by: string; resolves_to?: string }[] };
    expect(body.object).toBe('list');
    expect(body.data.slice(0, 3).map((m) => m.id)).toEqual(['krea-2', 'wan', 'avatar']);
    for (const m of body.data.slice(0, 3)) expect(m).toEqual({ id: m.id, object: 'model', created: expect.any(Number), owned_by: 'phi-gateway' });
    const byId = new Map(body.data.map((m) => [m.id, m]));
    expect(byId.size).toBe(body.data.length);
    expect(byId.get('krea')).toEqual({ id: 'krea', object: 'model', created: expect.any(Number), owned_by: 'phi-gateway', resolves_to: 'krea-2' });
    expect(byId.get('infinitalk')).toMatchObject({ owned_by: 'phi-gateway', resolves_to: 'avatar' });
    expect(byId.get('sora-2')).toEqual({ id: 'sora-2', object: 'model', created: expect.any(Number), owned_by: 'openai', resolves_to: 'wan' });
    expect(byId.get('dall-e-3')).toMatchObject({ owned_by: 'openai', resolves_to: 'krea-2' });
    for (const m of body.data.slice(3)) expect(['krea-2', 'wan', 'avatar']).toContain(m.resolves_to);
    expect(body.data.some((m) => m.id.includes('*'))).toBe(false);
  });

  it('the openai SDK lists and retrieves models', async () => {
    const client = gateway().openai('any');
    const list = [];
    for await (const m of client.models.list()) list.push(m.id);
    expect(list.slice(0, 3)).toEqual(['krea-2', 'wan', 'avatar']);
    expect(list).toEqual(expect.arrayContaining(['gpt-image-1', 'sora-2-pro', 'bernini']));
    expect((await client.models.retrieve('avatar')).id).toBe('avatar');
    expect(await client.models.retrieve('SORA-2-PRO')).toMatchObject({ id: 'sora-2-pro', owned_by: 'openai', resolves_to: 'wan' });
    await expect(client.models.retrieve('gpt-9')).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('GET /v1/pricing shows 33000 / 88000 / 220000 with defaults', async () => {
    const body = (await (await gateway().fetch('/v1/pricing')).json()) as { data: { model: string; unit: string; base_price_micro: number; margin_bps: number; price_micro: number }[] };
    expect(body.data.map((p) => [p.model, p.unit, p.base_price_micro, p.margin_bps, p.price_micro])).toEqual([
      ['krea-2', 'image', 30_000, 1000, 33_000],
      ['wan', 'second', 80_000, 1000, 88_000],
      ['avatar', 'second', 200_000, 1000, 220_000],
    ]);
  });

  it('pricing follows PRICE_MARGIN_BPS and every charge equals it', async () => {
    const gw = gateway({ PRICE_MARGIN_BPS: '2000' });
    const pricing = (await (await gw.fetch('/v1/pricing')).json()) as { data: { price_micro: number }[] };
    expect(pricing.data[0]!.price_micro).toBe(36_000);
    const { key } = await gw.issueKey({ credits_micro: 100_000 });
    const res = await gw.authed(key, '/v1/images/generations', { method: 'POST', body: JSON.stringify({ prompt: 'margin check' }) });
    expect(res.headers.get('x-phi-cost-micro')).toBe('36000');
  });
});

import { Hono } from 'hono/tiny';
import type { AppEnv } from '../app-env';
import { allNames, CATALOG_CREATED, lookupModel, MODELS, priceWithMargin, unitPrice, unknownModelMessage, type Named } from '../catalog/models';
import { ApiError } from '../http/errors';

/**
 * The OpenAI Model object. A canonical model is owned by the gateway; an alias (its own, OpenAI's id, or the
 * operator's MODEL_ALIASES) says who names it in `owned_by` and which model it runs in `resolves_to`.
 */
const modelObject = (n: Named) => ({
  id: n.id,
  object: 'model',
  created: CATALOG_CREATED,
  owned_by: n.owner,
  ...(n.id !== n.model.id && { resolves_to: n.model.id }),
});

export const catalog = new Hono<AppEnv>()
  .get('/models', (c) => c.json({ object: 'list', data: allNames(c.get('cfg').modelAliases).map(modelObject) }))
  // An alias (krea, bernini, gpt-image-1, sora-2 …) is answered as itself, with the model it resolves to.
  .get('/models/:id', (c) => {
    const n = lookupModel(c.req.param('id'), c.get('cfg').modelAliases);
    if (!n) throw new ApiError(404, 'model_not_found', unknownModelMessage(c.req.param('id')), 'model');
    return c.json(modelObject(n));
  })
  .get('/pricing', (c) => {
    const cfg = c.get('cfg');
    const margin = cfg.PRICE_MARGIN_BPS;
    // FALLBACKS endpoints are priced as what actually runs: their own base price plus the margin.
    const fallbacks = (id: (typeof MODELS)[number]['id']) => {
      const list = cfg.fallbacks[id];
      return list?.length ? { fallbacks: list.map((f) => ({ endpoint: f.endpoint, base_price_micro: f.baseMicro, price_micro: priceWithMargin(f.baseMicro, margin) })) } : {};
    };
    return c.json({
      object: 'list',
      currency: 'USD',
      unit_scale: 'micro',
      margin_bps: margin,
      data: MODELS.map((m) => ({
        model: m.id,
        kind: m.kind,
        aliases: m.aliases,
        unit: m.unit,
        base_price_micro: m.baseMicro,
        margin_bps: margin,
        price_micro: unitPrice(m, margin),
        test_tier_price_micro: 0,
        ...fallbacks(m.id),
      })),
    });
  });

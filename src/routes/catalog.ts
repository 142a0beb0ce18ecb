import { Hono } from 'hono/tiny';
import type { AppEnv } from '../app-env';
import { CATALOG_CREATED, findModel, MODELS, unitPrice, unknownModelMessage, type Model } from '../catalog/models';
import { ApiError } from '../http/errors';

const modelObject = (m: Model) => ({ id: m.id, object: 'model', created: CATALOG_CREATED, owned_by: 'phi-gateway' });

export const catalog = new Hono<AppEnv>()
  .get('/models', (c) => c.json({ object: 'list', data: MODELS.map(modelObject) }))
  // An alias (krea, bernini, gpt-image-1, sora-2 …) resolves to the model it names.
  .get('/models/:id', (c) => {
    const m = findModel(c.req.param('id'), c.get('cfg').modelAliases);
    if (!m) throw new ApiError(404, 'model_not_found', unknownModelMessage(c.req.param('id')), 'model');
    return c.json(modelObject(m));
  })
  .get('/pricing', (c) => {
    const margin = c.get('cfg').PRICE_MARGIN_BPS;
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
      })),
    });
  });

import { ApiError, badRequest } from '../http/errors';
import { findModel, priceWithMargin, unitPrice, unknownModelMessage, type AliasTable, type Canonical, type Kind, type Model, type Unit } from './models';

export type Tier = 'paid' | 'test';
export type ProviderName = 'fal' | 'worker';

export interface RouteInputs {
  /** The requested model name; undefined → the route's default. */
  model?: string;
  kind: Kind;
  hasImage?: boolean;
  hasAudio?: boolean;
}

/** Which fal endpoint ids are configured (env-overridable), and the model-name aliases in force. */
export interface FalModels {
  FAL_IMAGE_MODEL: string;
  FAL_VIDEO_MODEL: string;
  FAL_VIDEO_I2V_MODEL: string;
  FAL_AVATAR_MODEL: string;
  FAL_IMAGE_EDIT_MODEL: string;
  modelAliases?: AliasTable;
}

export interface Route {
  canonical: Canonical;
  provider: ProviderName;
  /** fal endpoint id (paid) or ComfyUI workflow name (test). */
  endpoint: string;
  unit: Unit;
  /** Price per unit charged to the customer, micro-USD (0 on the worker). */
  unitMicro: number;
}

const WORKER_I2V = 'bernini-i2v';
const WORKER_IMAGE_EDIT = 'krea-2-edit';

/**
 * Pure route resolution: (model, key tier, inputs) → route. Paid keys only ever reach fal, the test key only
 * ever reaches the worker. Audio on a video request with no model (or `wan`) means a talking avatar.
 */
export function resolveRoute(input: RouteInputs, tier: Tier, fal: FalModels, marginBps: number): Route {
  const model = pickModel(input, fal.modelAliases);
  if (model.kind !== input.kind) {
    throw badRequest('model', `Model '${model.id}' generates ${model.kind}s; use the /v1/${model.kind}s endpoints`);
  }
  if (model.id === 'avatar' && !input.hasImage) {
    throw badRequest('image_url', "Model 'avatar' needs a portrait image (image_url or input_reference)");
  }
  if (model.id === 'avatar' && !input.hasAudio) {
    throw badRequest('audio_url', "Model 'avatar' needs an audio input (audio_url or an uploaded audio file)");
  }
  const i2v = model.id === 'wan' && Boolean(input.hasImage);
  const edit = model.id === 'krea-2' && Boolean(input.hasImage);
  if (tier === 'test') {
    return {
      canonical: model.id,
      provider: 'worker',
      endpoint: i2v ? WORKER_I2V : edit ? WORKER_IMAGE_EDIT : model.workflow,
      unit: model.unit,
      unitMicro: 0,
    };
  }
  return {
    canonical: model.id,
    provider: 'fal',
    endpoint: i2v ? fal.FAL_VIDEO_I2V_MODEL : edit ? fal.FAL_IMAGE_EDIT_MODEL : fal[model.falEndpoint],
    unit: model.unit,
    unitMicro: unitPrice(model, marginBps),
  };
}

function pickModel(input: RouteInputs, aliases?: AliasTable): Model {
  const name = input.model?.trim();
  if (!name) return findModel(input.kind === 'image' ? 'krea-2' : input.hasAudio ? 'avatar' : 'wan')!;
  const model = findModel(name, aliases);
  if (!model) throw new ApiError(404, 'model_not_found', unknownModelMessage(name), 'model');
  return model.id === 'wan' && input.hasAudio ? findModel('avatar')! : model;
}

/** FALLBACKS as parsed: per canonical image model, other fal endpoints with their base prices. */
export type FallbackTable = Partial<Record<Canonical, readonly { endpoint: string; baseMicro: number }[]>>;

/**
 * The endpoints a synchronous image may run on, in order: the primary, then its FALLBACKS. Only for paid
 * text-to-image routes (fal): the test key never leaves the worker, a paid key never reaches it, and edits are not
 * redirected (their input shapes differ per endpoint). Each fallback is priced at its own base price plus the margin.
 */
export function routeChain(primary: Route, hasImage: boolean, fallbacks: FallbackTable, marginBps: number): Route[] {
  if (primary.provider !== 'fal' || hasImage) return [primary];
  const seen = new Set([primary.endpoint]);
  const chain = [primary];
  for (const f of fallbacks[primary.canonical] ?? []) {
    if (seen.has(f.endpoint)) continue;
    seen.add(f.endpoint);
    chain.push({ ...primary, endpoint: f.endpoint, unitMicro: priceWithMargin(f.baseMicro, marginBps) });
  }
  return chain;
}

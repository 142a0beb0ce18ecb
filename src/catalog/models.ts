// The one catalog: canonical models, their aliases, units and base prices. /v1/models, /v1/pricing and every
// charge are derived from this table.

export type Canonical = 'krea-2' | 'wan' | 'avatar';
export type Kind = 'image' | 'video';
export type Unit = 'image' | 'second';

export interface Model {
  id: Canonical;
  kind: Kind;
  unit: Unit;
  /** Base (provider) price per unit, integer micro-USD. */
  baseMicro: number;
  description: string;
  aliases: readonly string[];
  /** Config key holding the fal endpoint id of the paid route. */
  falEndpoint: 'FAL_IMAGE_MODEL' | 'FAL_VIDEO_MODEL' | 'FAL_AVATAR_MODEL';
  /** ComfyUI workflow template used on the free test route. */
  workflow: 'krea-2' | 'bernini' | 'infinitetalk';
}

export const MODELS: readonly Model[] = [
  {
    id: 'krea-2',
    kind: 'image',
    unit: 'image',
    baseMicro: 30_000,
    description: 'Text to image (FLUX.1 Krea on fal; Krea 2 on the test worker)',
    aliases: ['krea', 'flux-krea', 'flux-1-krea', 'krea2'],
    falEndpoint: 'FAL_IMAGE_MODEL',
    workflow: 'krea-2',
  },
  {
    id: 'wan',
    kind: 'video',
    unit: 'second',
    baseMicro: 80_000,
    description: 'Text/image to video (Krea-Wan 14B on fal; Bernini on the test worker)',
    aliases: ['bernini', 'krea-wan', 'wan-14b', 'wan2.2'],
    falEndpoint: 'FAL_VIDEO_MODEL',
    workflow: 'bernini',
  },
  {
    id: 'avatar',
    kind: 'video',
    unit: 'second',
    baseMicro: 200_000,
    description: 'Portrait image + audio to a lip-synced talking video (InfiniTalk)',
    aliases: ['infinitalk', 'infinitetalk', 'talking-avatar'],
    falEndpoint: 'FAL_AVATAR_MODEL',
    workflow: 'infinitetalk',
  },
];

/** Fixed creation time reported by /v1/models (the catalog's publication date). */
export const CATALOG_CREATED = 1_767_225_600; // 2026-01-01T00:00:00Z

const byName = new Map<string, Model>();
for (const m of MODELS) for (const name of [m.id, ...m.aliases]) byName.set(name, m);

/** Looks up a canonical id or alias (case-insensitive). */
export function findModel(name: string): Model | undefined {
  return byName.get(name.trim().toLowerCase());
}

/** Customer price per unit: base × (1 + margin), rounded half up to a whole micro-USD. */
export function unitPrice(model: Model, marginBps: number): number {
  return Math.floor((model.baseMicro * (10_000 + marginBps) + 5_000) / 10_000);
}

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

/** Names clients send for other vendors' models, mapped onto ours: `*` at the end matches any continuation. */
export interface AliasTable {
  exact: Map<string, Canonical>;
  /** longest prefix first */
  prefixes: [string, Canonical][];
}

/** What OpenAI SDK users send by default: their image models → krea-2, Sora → wan. */
export const OPENAI_ALIASES: Record<string, Canonical> = { 'gpt-image-*': 'krea-2', 'dall-e-*': 'krea-2', 'sora-2*': 'wan', 'sora-*': 'wan' };

/** Builds an alias table from `name → canonical` entries (later entries win); throws on an unknown canonical id. */
export function aliasTable(...sources: Record<string, string>[]): AliasTable {
  const table: AliasTable = { exact: new Map(), prefixes: [] };
  const prefixes = new Map<string, Canonical>();
  for (const source of sources) {
    for (const [rawName, target] of Object.entries(source)) {
      const canonical = byName.get(String(target).trim().toLowerCase())?.id;
      if (!canonical) throw new RangeError(`unknown model '${target}'`);
      const name = rawName.trim().toLowerCase();
      if (name.endsWith('*')) prefixes.set(name.slice(0, -1), canonical);
      else table.exact.set(name, canonical);
    }
  }
  table.prefixes = [...prefixes].sort((a, b) => b[0].length - a[0].length);
  return table;
}

const DEFAULT_ALIASES = aliasTable(OPENAI_ALIASES);

/** Looks up a canonical id, one of its aliases, or a configured alias (case-insensitive). */
export function findModel(name: string, aliases: AliasTable = DEFAULT_ALIASES): Model | undefined {
  const key = name.trim().toLowerCase();
  const direct = byName.get(key);
  if (direct) return direct;
  const mapped = aliases.exact.get(key) ?? aliases.prefixes.find(([p]) => key.startsWith(p))?.[1];
  return mapped ? byName.get(mapped) : undefined;
}

/** The 404 for a model name nothing resolves, listing what does exist. */
export const unknownModelMessage = (name: string) => `The model '${name}' does not exist; available: ${MODELS.map((m) => m.id).join(', ')}`;

/** Customer price per unit: base × (1 + margin), rounded half up to a whole micro-USD. */
export function unitPrice(model: Model, marginBps: number): number {
  return Math.floor((model.baseMicro * (10_000 + marginBps) + 5_000) / 10_000);
}

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

/**
 * OpenAI's model ids, exactly as the installed `openai` SDK types them (`ImageModel` in resources/images.d.ts,
 * `VideoModel` in resources/videos.d.ts, dated snapshots included): its image models → krea-2, Sora → wan. No
 * patterns: a name OpenAI does not publish (`dall-e-9000x`) is a 404 before anything is held. test/node/
 * openai-models.test.ts fails when the SDK gains a name this table lacks. MODEL_ALIASES adds to it.
 */
export const OPENAI_ALIASES: Readonly<Record<string, Canonical>> = {
  'gpt-image-1': 'krea-2',
  'gpt-image-1-mini': 'krea-2',
  'gpt-image-1.5': 'krea-2',
  'gpt-image-2': 'krea-2',
  'gpt-image-2-2026-04-21': 'krea-2',
  'gpt-image-2.5-sunburst': 'krea-2',
  'gpt-image-2.5-sunburst-2026-09-08': 'krea-2',
  'gpt-image-2.5-flare': 'krea-2',
  'gpt-image-2.5-flare-2026-09-08': 'krea-2',
  'gpt-image-2.6-sunburst': 'krea-2',
  'gpt-image-2.6-flare': 'krea-2',
  'chatgpt-image-latest': 'krea-2',
  'dall-e-2': 'krea-2',
  'dall-e-3': 'krea-2',
  'sora-2': 'wan',
  'sora-2-pro': 'wan',
  'sora-2-2025-10-06': 'wan',
  'sora-2-pro-2025-10-06': 'wan',
  'sora-2-2025-12-08': 'wan',
};

/**
 * Names clients send for other vendors' models, mapped onto ours. Exact names; only an operator's MODEL_ALIASES
 * may end in `*`, which matches any continuation (the built-in table has none).
 */
export interface AliasTable {
  exact: Map<string, Canonical>;
  /** longest prefix first */
  prefixes: [string, Canonical][];
}

/** Who names a model (/v1/models `owned_by`): ours, OpenAI's ids, or the operator's MODEL_ALIASES. */
export type Owner = 'phi-gateway' | 'openai' | 'operator';

const ownerOf = (name: string): Owner => (byName.has(name) ? 'phi-gateway' : Object.hasOwn(OPENAI_ALIASES, name) ? 'openai' : 'operator');

/** Builds an alias table from `name → canonical` entries (later entries win); throws on an unknown canonical id. */
export function aliasTable(...sources: Readonly<Record<string, string>>[]): AliasTable {
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

/** A name as it resolves: the (lower-cased) name itself, the model it names, and who names it. */
export interface Named {
  id: string;
  model: Model;
  owner: Owner;
}

/** Resolves a canonical id, one of its aliases, an OpenAI id or a configured alias (case-insensitive). */
export function lookupModel(name: string, aliases: AliasTable = DEFAULT_ALIASES): Named | undefined {
  const key = name.trim().toLowerCase();
  const direct = byName.get(key);
  if (direct) return { id: key, model: direct, owner: 'phi-gateway' };
  const mapped = aliases.exact.get(key) ?? aliases.prefixes.find(([p]) => key.startsWith(p))?.[1];
  return mapped ? { id: key, model: byName.get(mapped)!, owner: ownerOf(key) } : undefined;
}

/** Looks up a canonical id, one of its aliases, or a configured alias (case-insensitive). */
export const findModel = (name: string, aliases: AliasTable = DEFAULT_ALIASES): Model | undefined => lookupModel(name, aliases)?.model;

/**
 * Every exact name that resolves, in listing order: the canonical models, their own aliases, OpenAI's ids, then the
 * operator's (prefix patterns are not names and are not listed). A later entry overriding an earlier one is listed
 * once, as it resolves now.
 */
export function allNames(aliases: AliasTable = DEFAULT_ALIASES): Named[] {
  const out: Named[] = MODELS.map((m) => ({ id: m.id, model: m, owner: 'phi-gateway' as const }));
  for (const m of MODELS) for (const a of m.aliases) out.push({ id: a, model: m, owner: 'phi-gateway' });
  const rank = (o: Owner) => (o === 'openai' ? 0 : 1);
  const mapped = [...aliases.exact.keys()].filter((n) => !byName.has(n)).map((n) => lookupModel(n, aliases)!);
  return [...out, ...mapped.sort((a, b) => rank(a.owner) - rank(b.owner))];
}

/** The 404 for a model name nothing resolves, listing what does exist. */
export const unknownModelMessage = (name: string) => `The model '${name}' does not exist; available: ${MODELS.map((m) => m.id).join(', ')}`;

/** Customer price per unit: base × (1 + margin), rounded half up to a whole micro-USD. */
export function unitPrice(model: Model, marginBps: number): number {
  return priceWithMargin(model.baseMicro, marginBps);
}

/** A base price plus the margin, rounded half up (the catalog's models and FALLBACKS endpoints alike). */
export function priceWithMargin(baseMicro: number, marginBps: number): number {
  return Math.floor((baseMicro * (10_000 + marginBps) + 5_000) / 10_000);
}

// The built-in OpenAI model table (src/catalog/models.ts OPENAI_ALIASES) against the installed `openai` SDK's own
// model types: every id the SDK knows for images or video resolves, to a model of that kind, and nothing else is
// matched by a pattern. Runs in Node (it reads the SDK's .d.ts files); fails when an SDK upgrade adds a name.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findModel, OPENAI_ALIASES } from '../../src/catalog/models';

// The installed SDK the gateway's own tests run (package.json devDependencies).
const SDK = path.resolve(import.meta.dirname, '..', '..', 'node_modules', 'openai');
const SDK_VERSION = (JSON.parse(readFileSync(path.join(SDK, 'package.json'), 'utf8')) as { version: string }).version;

/** The string literals of `export type <name> = …;` in one of the SDK's .d.ts files. */
function typeUnion(file: string, name: string): string[] {
  const src = readFileSync(path.join(SDK, file), 'utf8');
  const m = new RegExp(`export type ${name} = ([^;]*);`).exec(src);
  if (!m) throw new Error(`${name} not found in openai/${file} (${SDK_VERSION})`);
  return [...m[1]!.matchAll(/'([^']+)'/g)].map((x) => x[1]!);
}

/** Every image/video model id literal anywhere in the SDK's types (e.g. the Responses image_generation tool's). */
function allLiterals(dir: string, out = new Set<string>()): Set<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) allLiterals(p, out);
    else if (entry.name.endsWith('.d.ts')) {
      for (const m of readFileSync(p, 'utf8').matchAll(/'((?:gpt-image|chatgpt-image|dall-e|sora)[a-z0-9.-]*)'/g)) out.add(m[1]!);
    }
  }
  return out;
}

describe(`OpenAI model ids (openai ${SDK_VERSION})`, () => {
  const images = typeUnion('resources/images.d.ts', 'ImageModel');
  const videos = typeUnion('resources/videos.d.ts', 'VideoModel');

  it('the SDK still declares the unions this test reads', () => {
    expect(images).toEqual(expect.arrayContaining(['gpt-image-1', 'gpt-image-1-mini', 'gpt-image-1.5', 'gpt-image-2', 'chatgpt-image-latest', 'dall-e-2', 'dall-e-3']));
    expect(videos).toEqual(expect.arrayContaining(['sora-2', 'sora-2-pro']));
  });

  it('every ImageModel id is in the table and makes images; every VideoModel id makes video', () => {
    expect(images.filter((id) => !Object.hasOwn(OPENAI_ALIASES, id)), 'ImageModel ids missing from OPENAI_ALIASES').toEqual([]);
    expect(videos.filter((id) => !Object.hasOwn(OPENAI_ALIASES, id)), 'VideoModel ids missing from OPENAI_ALIASES').toEqual([]);
    for (const id of images) expect(findModel(id)?.kind, id).toBe('image');
    for (const id of videos) expect(findModel(id)?.kind, id).toBe('video');
  });

  it('no image or video model id anywhere in the SDK types is missing', () => {
    const literals = [...allLiterals(path.join(SDK, 'resources'))];
    expect(literals.length).toBeGreaterThan(0);
    expect(literals.filter((id) => !Object.hasOwn(OPENAI_ALIASES, id))).toEqual([]);
  });

  it('the built-in table is exact names only: look-alikes are unknown', () => {
    expect(Object.keys(OPENAI_ALIASES).filter((n) => n.includes('*') || n !== n.trim().toLowerCase())).toEqual([]);
    for (const name of ['dall-e-9000x', 'dall-e-', 'gpt-image-3', 'gpt-image-1-max', 'sora-2-ultra', 'sora-3', 'sora', 'gpt-4o', 'chatgpt-image']) {
      expect(findModel(name), name).toBeUndefined();
    }
  });
});

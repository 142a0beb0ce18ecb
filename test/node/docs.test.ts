// The repository stands on its own: every relative link in the README and in docs/ resolves to a file in the repo
// (nothing points outside it, e.g. at a sibling checkout), and docs/API.md is what `npm run openapi` makes of the
// committed /openapi.json document.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { apiMarkdown } from '../../scripts/lib/api-md.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');

/** Relative targets of markdown links and of inline-code paths that name a file (`docs/…`, `src/…`, `test/…`, `scripts/…`). */
function targets(markdown: string): string[] {
  const links = [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
  const code = [...markdown.matchAll(/`((?:\.\.\/|docs\/|src\/|test\/|scripts\/|public\/)[\w./-]*[\w/])`/g)].map((m) => m[1]!);
  return [...links, ...code].filter((t) => !/^[a-z]+:/i.test(t) && !t.startsWith('#')).map((t) => t.split('#')[0]!).filter(Boolean);
}

const docs = ['README.md', ...readdirSync(path.join(ROOT, 'docs'), { recursive: true }).map(String).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('documentation', () => {
  it.each(docs)('every relative link in %s resolves inside the repository', (file) => {
    const dir = path.dirname(path.join(ROOT, file));
    const missing = targets(read(file)).filter((t) => {
      // Inline-code paths are written from the repository root; markdown links from the file's own folder.
      const fromFile = path.resolve(dir, t);
      const fromRoot = path.resolve(ROOT, t);
      const inside = (p: string) => p === ROOT || p.startsWith(ROOT + path.sep);
      return !((inside(fromFile) && existsSync(fromFile)) || (inside(fromRoot) && existsSync(fromRoot)));
    });
    expect(missing, `${file} links to files that are not in the repository`).toEqual([]);
  });

  it('docs/API.md is generated from the committed OpenAPI document (run npm run openapi)', () => {
    const doc = JSON.parse(read('src/openapi/openapi.json'));
    expect(read('docs/API.md'), 'docs/API.md is stale: run npm run openapi').toBe(apiMarkdown(doc));
  });

  it('every file the README walkthrough writes into the checkout is gitignored (git check-ignore)', () => {
    const readme = read('README.md');
    const start = readme.indexOf('## Try it (local)');
    const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(start, readme.indexOf('\n## ', start + 5)))?.[1] ?? '';
    // curl -o <file>, `> <file>`, and the samples it makes and uploads (`@samples/…`, "writes samples/…").
    const written = [
      ...[...block.matchAll(/(?:\s-o|[^2]>)\s*([\w./-]+)/g)].map((m) => m[1]!),
      ...[...block.matchAll(/(?:@|writes )(samples\/[\w.-]+)/g)].map((m) => m[1]!),
    ].filter((f) => !f.startsWith('/dev/'));
    const files = [...new Set(written)];
    expect(files).toEqual(expect.arrayContaining(['samples/portrait.png', 'samples/voice.wav', 'waiting-room.png', 'lobby.mp4']));
    const git = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: ROOT, encoding: 'utf8' });
    if (git.status !== 0) {
      if (process.env.CI === 'true') throw new Error(`not a git checkout, or git is missing: ${git.stderr}`);
      return;
    }
    // --no-index: ignored by the rules whether or not such a file was ever added by mistake.
    const ignored = spawnSync('git', ['check-ignore', '--no-index', '--stdin'], { cwd: ROOT, encoding: 'utf8', input: files.join('\n') });
    const listed = ignored.stdout.split('\n').filter(Boolean);
    expect(files.filter((f) => !listed.includes(f)), 'written by the walkthrough but not gitignored').toEqual([]);
  });
});

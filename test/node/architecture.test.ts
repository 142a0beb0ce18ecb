// One-way dependencies, checked: dependency-cruiser reads src/ with the layers declared in .dependency-cruiser.cjs
// (README "Architecture"): no import cycle, no import that goes up a layer, src never imports test code. And small
// files: a source file over 300 lines says why at its top.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAX_LINES = 300;
/** Within a file's first lines, a comment giving the reason it is longer. */
const REASON = /^\s*(?:\/\/|\/?\*).*Over 300 lines:/;

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

describe('architecture', () => {
  it('the import graph of src/ has no cycle and no upward import', () => {
    let out: string;
    try {
      out = execFileSync(path.join(ROOT, 'node_modules/.bin/depcruise'), ['src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    } catch (err) {
      // depcruise exits non-zero when it finds violations; its JSON is still on stdout.
      out = String((err as { stdout?: string }).stdout ?? '');
      if (!out) throw err;
    }
    const result = JSON.parse(out) as { summary: { violations: Violation[]; totalCruised: number } };
    expect(result.summary.totalCruised).toBeGreaterThan(50);
    const found = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.cycle ? v.cycle.map((c) => c.name).join(' → ') : v.to}`);
    expect(found).toEqual([]);
  });

  it(`no .ts file under src/ is over ${MAX_LINES} lines without "Over ${MAX_LINES} lines: <reason>" in a comment in its first 15 lines`, () => {
    const files = readdirSync(path.join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(50);
    const offenders: string[] = [];
    for (const file of files.sort()) {
      const text = readFileSync(path.join(ROOT, 'src', file), 'utf8');
      const lines = text.split('\n');
      if (lines.at(-1) === '') lines.pop(); // counted as `wc -l` does
      if (lines.length > MAX_LINES && !lines.slice(0, 15).some((l) => REASON.test(l))) offenders.push(`src/${file.split(path.sep).join('/')} (${lines.length} lines)`);
    }
    expect(offenders, `split these files by concern, or give the reason in their first lines as // Over ${MAX_LINES} lines: <reason>.`).toEqual([]);
  });
});

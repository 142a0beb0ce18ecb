// One-way dependencies, checked: dependency-cruiser reads src/ with the layers declared in .dependency-cruiser.cjs
// (README "Architecture"): no import cycle, no import that goes up a layer, src never imports test code.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

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
});

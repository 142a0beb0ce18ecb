// What every container stripper shares: the Output being assembled from kept input ranges, StripError and `fail`,
// and the byte readers.

/** A container is malformed: metadata removal cannot be guaranteed. The message never quotes the file. */
export class StripError extends Error {
  override name = 'StripError';
}

/** The output as a list of kept input ranges and small new pieces, assembled with one allocation. */
export class Output {
  readonly removed: string[] = [];
  private readonly parts: Uint8Array[] = [];
  private lastEnd = -1; // end of the last part when it is a range of the input (for coalescing)
  /** Called on the assembled output (a new array) before it is returned. */
  patch?: (out: Uint8Array) => void;

  constructor(private readonly input: Uint8Array) {}

  keep(start: number, end: number): void {
    if (end <= start) return;
    const last = this.parts.length - 1;
    if (this.lastEnd === start) {
      const prev = this.parts[last]!;
      this.parts[last] = this.input.subarray(start - prev.length, end);
    } else {
      this.parts.push(this.input.subarray(start, end));
    }
    this.lastEnd = end;
  }

  add(piece: Uint8Array): void {
    this.parts.push(piece);
    this.lastEnd = -1;
  }

  drop(name: string): void {
    if (!this.removed.includes(name)) this.removed.push(name);
  }

  finish(): Uint8Array {
    // Nothing changed: one part, and it is the whole input.
    if (this.parts.length === 1 && this.lastEnd === this.input.length && this.parts[0]!.length === this.input.length) return this.input;
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of this.parts) (out.set(p, at), (at += p.length));
    this.patch?.(out);
    return out;
  }
}

export const fail = (what: string): never => {
  throw new StripError(`${what}: metadata removal cannot be guaranteed`);
};
export const matches = (b: Uint8Array, at: number, sig: string) => {
  if (at < 0 || at + sig.length > b.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig.charCodeAt(i)) return false;
  return true;
};
export const u16be = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
export const u32be = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
export const u32le = (b: Uint8Array, at: number) => ((b[at + 3]! << 24) | (b[at + 2]! << 16) | (b[at + 1]! << 8) | b[at]!) >>> 0;

// PNG metadata removal (see src/media/strip.ts): ancillary chunks outside a known-safe list dropped, bytes after IEND too.
import { fail, matches, type Output, u32be } from './strip-output';

const PNG_KEEP = new Set('IHDR PLTE IDAT IEND tRNS cHRM gAMA iCCP sBIT sRGB cICP mDCv cLLI bKGD hIST pHYs sPLT acTL fcTL fdAT'.split(' '));
const PNG_NAMED = new Set('tEXt zTXt iTXt eXIf tIME dSIG iDOT vpAg caNv orNT sTER oFFs pCAL sCAL gIFx gIFg'.split(' '));
const letter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

export function png(b: Uint8Array, out: Output): void {
  const n = b.length;
  if (!matches(b, 0, '\x89PNG\r\n\x1a\n')) fail('png: bad signature');
  out.keep(0, 8);
  let pos = 8;
  for (let first = true; ; first = false) {
    if (pos + 12 > n) fail('png: no IEND');
    const length = u32be(b, pos);
    if (length > 0x7fffffff || pos + 12 + length > n) fail('png: chunk runs past the end');
    for (let i = 4; i < 8; i++) if (!letter(b[pos + i]!)) fail('png: bad chunk type');
    const type = String.fromCharCode(b[pos + 4]!, b[pos + 5]!, b[pos + 6]!, b[pos + 7]!);
    if (first && type !== 'IHDR') fail('png: IHDR not first');
    const end = pos + 12 + length;
    if (PNG_KEEP.has(type)) out.keep(pos, end);
    else if (b[pos + 4]! & 0x20) out.drop(PNG_NAMED.has(type) ? type : 'PNG/ancillary');
    else fail('png: unknown critical chunk');
    pos = end;
    if (type === 'IEND') break;
  }
  if (pos < n) out.drop('trailing-data');
}

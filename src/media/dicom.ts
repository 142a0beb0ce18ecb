// DICOM recognition (so that medical images can be refused before anything else reads them).
import { matches, u32le } from './strip-output';

const VRS = new Set('AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '));
/** Explicit VRs whose length is 4 bytes after 2 reserved zero bytes. */
const LONG_VRS = new Set('OB OD OF OL OV OW SQ SV UC UN UR UT UV'.split(' '));

/**
 * DICOM: 'DICM' at byte offset 128 (a Part 10 file), or a preamble-less dataset starting with a plausible group
 * 0x0002 or 0x0008 data element (little-endian tag; explicit VR with a valid VR, or implicit VR with an even length
 * of at most 64 KiB or undefined). `head` is the file's first bytes (132 are enough; fewer are allowed).
 */
export function isDicom(head: Uint8Array): boolean {
  if (head.length >= 132 && matches(head, 128, 'DICM')) return true;
  if (head.length < 8 || head[1] !== 0 || (head[0] !== 0x02 && head[0] !== 0x08)) return false;
  const vr = String.fromCharCode(head[4]!, head[5]!);
  if (VRS.has(vr)) return LONG_VRS.has(vr) ? head[6] === 0 && head[7] === 0 : true;
  const length = u32le(head, 4);
  return length === 0xffffffff || (length <= 0x10000 && length % 2 === 0);
}

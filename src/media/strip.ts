// Metadata removal for customer input files, and DICOM recognition (so that medical images can be refused).
// Metadata goes by REWRITING THE CONTAINER: segments / chunks / blocks / tags are walked by their headers and only
// the kept ranges are copied, once, into the output. Pixels and audio are never decoded or re-encoded, CRCs are
// neither checked nor recomputed (kept chunks are copied byte for byte), and the cost is linear in the bytes.
// When a container is malformed (truncated, a length running past the end, a structure we cannot vouch for) the
// answer is a StripError: removal could not be guaranteed, so the file must not be forwarded.
//
// What is removed, by container:
//   JPEG  Markers are walked from SOI up to the first SOS; from there entropy-coded data is copied verbatim (markers
//         are found by a byte search, never by decoding), APPn and COM between progressive scans are dropped too, and
//         the image ends at its EOI: anything after it (MPF secondary images, motion-photo video, vendor trailers) is
//         dropped ('trailing-data'). Dropped: APP1 (Exif, XMP, extended XMP, anything
//         else), APP2 unless it is ICC_PROFILE (so MPF / FlashPix go), APP3–APP13 (APP13 = Photoshop / IPTC), APP14
//         unless it is 'Adobe' (needed to decode CMYK / YCCK), APP15, COM. Kept: APP0 (JFIF / JFXX), APP2
//         ICC_PROFILE, APP14 Adobe and every non-APP marker (DQT, SOFn, DHT, DAC, DRI, DNL, JPGn…); 0xFF fill bytes,
//         RSTn and TEM are tolerated and copied. Orientation: when a dropped Exif segment ('Exif\0' + TIFF) carried
//         an IFD0 Orientation (0x0112, SHORT or LONG, count 1) of 2–8, a minimal APP1 Exif is written in place of
//         the first such segment: TIFF header in the original byte order (II or MM), IFD0 with that one entry as a
//         SHORT, next-IFD 0 (36 bytes). Nothing else survives (no GPS, camera, owner, dates, thumbnail). That exact
//         minimal segment is recognised and kept as is, so a second pass removes nothing. Errors: no SOI, bytes
//         other than a marker between segments, a reserved marker (0x02–0xBF), a second SOI, EOI or a stuffed 0x00
//         before SOS, a segment running past the end, no SOS.
//   PNG   Signature, then chunks up to IEND; bytes after IEND are dropped ('trailing-data'). Kept (copied byte for
//         byte, CRC untouched): IHDR PLTE IDAT IEND tRNS cHRM gAMA iCCP sBIT sRGB cICP mDCv cLLI bKGD hIST pHYs
//         sPLT acTL fcTL fdAT. Every other ancillary chunk is dropped (tEXt zTXt iTXt eXIf tIME …). Errors: bad
//         signature, IHDR not first, a length over 2^31-1 or past the end, a chunk type that is not 4 letters, an
//         unknown critical chunk (decoders must reject it too), no IEND.
//   WebP  RIFF/WEBP chunks within the RIFF size; bytes after it are dropped ('trailing-data'). Kept: VP8X VP8 VP8L
//         ALPH ANIM ANMF ICCP; dropped: EXIF, 'XMP ' and any unknown chunk. A VP8X chunk's EXIF (0x08) and XMP (0x04)
//         flags are cleared; the RIFF size is rewritten; odd chunk sizes carry a pad byte (only the last chunk's
//         may be missing). Errors: RIFF size past the end or under 4, a chunk past the RIFF end.
//   WAV   RIFF/WAVE chunks within the RIFF size; bytes after it are dropped ('trailing-data'). Dropped: LIST (INFO,
//         adtl…), 'id3 ', 'ID3 ', bext, iXML, axml, _PMX, cart, DISP; everything else is kept (fmt, data, fact, cue,
//         smpl, JUNK…). The RIFF size is rewritten; pad bytes respected. Errors as for WebP (so a streamed WAV whose
//         sizes were never filled in is refused: whatever follows its data chunk could not be found).
//   MP3   Dropped: leading ID3v2 tags (syncsafe size, +10 with the footer flag; stacked tags) and 0x00 padding after
//         them; at the end, in any order and repeated: ID3v1 'TAG' (128 bytes) with an Enhanced 'TAG+' (227 bytes)
//         before it, APEv2 (located by its 'APETAGEX' footer, header included when flagged), Lyrics3 v2, and an
//         appended ID3v2.4 (located by its '3DI' footer). MPEG frames in between are copied verbatim, not walked.
//         Errors: a tag running past the bounds, a non-syncsafe size, no frame sync after the leading tags.
//   FLAC  'fLaC', then metadata blocks, then frames verbatim. Kept: STREAMINFO (must be first), SEEKTABLE, CUESHEET.
//         Dropped: APPLICATION, VORBIS_COMMENT, PICTURE, PADDING (tag editors leave old tag bytes in it) and reserved
//         types. The last-block flag is set on the new last block (and cleared on the others). Frames verbatim,
//         less the tags some taggers append after them (as for MP3). Errors: no STREAMINFO first, block type 127,
//         a block past the end.
//   Other types (M4A, OGG, …) are returned unchanged with stripped = false: no guarantee is given for them.
// `removed` lists distinct fixed names (never bytes from the file) in the order first met, e.g. ['APP1/Exif','COM'];
// an unknown chunk is named generically ('PNG/ancillary', 'RIFF/other'). When nothing was changed the input array
// itself is returned (no copy); the input is never modified.

// The container walkers live beside this file (strip-jpeg, strip-png, strip-riff, strip-mp3, strip-flac, over the
// shared Output in strip-output); DICOM recognition is in dicom.ts.
import { flac } from './strip-flac';
import { jpeg } from './strip-jpeg';
import { mp3 } from './strip-mp3';
import { Output } from './strip-output';
import { png } from './strip-png';
import { riff } from './strip-riff';

export { isDicom } from './dicom';
export { StripError } from './strip-output';

export interface Stripped {
  bytes: Uint8Array;
  removed: string[];
  stripped: boolean;
}

/** The same file with its metadata removed (see the top of this module), or StripError when malformed. */
export function stripMetadata(bytes: Uint8Array, type: string): Stripped {
  const strip = STRIPPERS[type];
  if (!strip) return { bytes, removed: [], stripped: false };
  const out = new Output(bytes);
  strip(bytes, out);
  return { bytes: out.finish(), removed: out.removed, stripped: true };
}

const STRIPPERS: Record<string, (b: Uint8Array, out: Output) => void> = {
  'image/jpeg': jpeg,
  'image/png': png,
  'image/webp': (b, out) => riff(b, out, 'WEBP'),
  'audio/wav': (b, out) => riff(b, out, 'WAVE'),
  'audio/mpeg': mp3,
  'audio/flac': flac,
};

// The PHI gate beyond the header, end to end through the gateway: identifiers in any text field or file name, and
// DICOM uploads, are refused with 403 phi_blocked before anything is forwarded, held, charged or stored (except one
// audit event naming the field and the class); input media reach the provider stripped of their metadata; the
// per-account override and PHI_SCAN=off let reviewed content through, on both ledger stores.
import { describe, expect, inject, it } from 'vitest';
import { typedInput } from '../src/media/inputs';
import { dicomPart10, indexOf, jpegSegments, metadataPng, metadataWav, realJpegWithMetadata, SECRETS } from './fixtures/media-builders';
import { bodyText, falOrigin, gateway, PNG_BYTES, requireService, standinCalls, TEST_API_KEY, uniq, type Gateway } from './helpers';

const upstashUrl = inject('upstashUrl');
const hasUpstash = requireService('Upstash stand-in (redis-server)', upstashUrl);
const stores: [string, () => Gateway][] = [
  ['durable object', () => gateway()],
  ...(hasUpstash ? ([['upstash', () => gateway({ UPSTASH_REDIS_REST_URL: upstashUrl, UPSTASH_REDIS_REST_TOKEN: inject('upstashToken') })]] as [string, () => Gateway][]) : []),
];

const SSN = '123-45-6789';
const json = (gw: Gateway, key: string, path: string, body: unknown) =>
  gw.authed(key, path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
/** Every call any stand-in got that mentions `marker` (in its path, query or body). */
const upstreamCalls = async (marker: string) => (await standinCalls(falOrigin())).filter((c) => JSON.stringify(c).includes(marker));
const auditOf = async (gw: Gateway, account: string) => {
  const res = await gw.admin(`/admin/accounts/${account}/audit`);
  expect(res.status).toBe(200);
  return (await bodyText(res)).trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; detail?: Record<string, unknown> });
};

async function expectBlocked(res: Response, param: string, words: RegExp, secret: string) {
  expect(res.status).toBe(403);
  expect(res.headers.get('x-phi-tier')).toBe('non_phi');
  const text = await res.text();
  expect(text).not.toContain(secret);
  const { error } = JSON.parse(text) as { error: { code: string; param: string; message: string; type: string } };
  expect(error).toMatchObject({ code: 'phi_blocked', param, type: 'permission_error' });
  expect(error.message).toMatch(words);
}

describe('content screening refuses identifiers before anything happens', () => {
  it.each(stores)('%s: every generation route, every field kind — 403, nothing forwarded, held, charged or recorded but the audit event', async (_name, make) => {
    const gw = make();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    const marker = uniq('phi');
    const cases: [string, Promise<Response>, string, RegExp, string][] = [
      ['image prompt', json(gw, key, '/v1/images/generations', { prompt: `${marker} portrait, patient SSN ${SSN}` }), 'prompt', /Social Security/, SSN],
      ['image user', json(gw, key, '/v1/images/generations', { prompt: marker, user: 'MRN: 00482913' }), 'user', /medical record/i, '00482913'],
      ['unknown nested field', json(gw, key, '/v1/images/generations', { prompt: marker, metadata: { notes: ['DOB 03/14/1962'] } }), 'metadata.notes[0]', /birth/i, '03/14/1962'],
      ['video prompt', json(gw, key, '/v1/videos', { prompt: `${marker} provider NPI 1234567893 talks`, seconds: 2 }), 'prompt', /NPI|Provider Identifier/i, '1234567893'],
      ['video negative prompt', json(gw, key, '/v1/videos', { prompt: marker, negative_prompt: 'member id: W88812345', seconds: 2 }), 'negative_prompt', /member/i, 'W88812345'],
    ];
    for (const [name, pending, param, words, secret] of cases) await expectBlocked(await pending, param, words, secret).catch((e) => Promise.reject(new Error(`${name}: ${e}`)));

    // Multipart: a text field, and a file name.
    const form = new FormData();
    form.set('image', new File([PNG_BYTES], 'a.png', { type: 'image/png' }));
    form.set('prompt', `${marker} watercolour, born on March 3, 1970`);
    await expectBlocked(await gw.authed(key, '/v1/images/edits', { method: 'POST', body: form }), 'prompt', /birth/i, 'March 3, 1970');
    const named = new FormData();
    named.set('image', new File([PNG_BYTES], `scan ${SSN}.png`, { type: 'image/png' }));
    named.set('prompt', marker);
    await expectBlocked(await gw.authed(key, '/v1/images/edits', { method: 'POST', body: named }), 'image', /file name.*Social Security/, SSN);

    // Nothing reached fal, nothing was held or charged, no usage record; the audit trail names field + class only.
    expect(await upstreamCalls(marker)).toEqual([]);
    const bal = await gw.balance(account);
    expect(bal).toMatchObject({ balance_micro: 1_000_000, held_micro: 0, charges: 0 });
    expect(bal.usage).toEqual([]);
    const events = (await auditOf(gw, account)).filter((e) => e.type === 'phi.blocked');
    // (Upstash orders events written in the same millisecond by their text: compare as sets.)
    expect(events.map((e) => [e.detail?.field, e.detail?.class]).sort()).toEqual([
      ['prompt', 'ssn'], ['user', 'mrn'], ['metadata.notes[0]', 'dob'], ['prompt', 'npi'], ['negative_prompt', 'member_id'], ['prompt', 'dob'], ['image', 'ssn'],
    ].sort());
    const trail = JSON.stringify(await auditOf(gw, account));
    for (const secret of [SSN, '00482913', '1234567893', 'W88812345', marker]) expect(trail).not.toContain(secret);
  });

  it('a remix prompt is screened too, and the shared test key is screened like any other', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    const video = (await (await json(gw, key, '/v1/videos', { prompt: uniq('remix base'), seconds: 2 })).json()) as { id: string };
    await expectBlocked(await json(gw, key, `/v1/videos/${video.id}/remix`, { prompt: 'the same, Medicare 1EG4-TE5-MK73' }), 'prompt', /Medicare/, '1EG4-TE5-MK73');
    await expectBlocked(await json(gw, TEST_API_KEY, '/v1/images/generations', { prompt: `SSN ${SSN}` }), 'prompt', /Social Security/, SSN);
  });

  it('ordinary clinic marketing with numbers, dates and prices passes and is billed as usual', async () => {
    const gw = gateway();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    const prompt = `${uniq('clean')} poster: open since 2019, call (555) 123-4567, Suite 400, 1200 Market St, $129.00, flu shots March 3, 2025`;
    const res = await json(gw, key, '/v1/images/generations', { prompt });
    expect(res.status).toBe(200);
    expect((await gw.balance(account)).balance_micro).toBe(1_000_000 - 33_000);
  });
});

describe('media inputs', () => {
  it('a DICOM upload is refused as PHI on every route that takes files, whatever PHI_SCAN says', async () => {
    for (const gw of [gateway(), gateway({ PHI_SCAN: 'off' })]) {
      const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
      const form = new FormData();
      form.set('image', new File([dicomPart10()], 'image.png', { type: 'image/png' }));
      form.set('prompt', 'x');
      await expectBlocked(await gw.authed(key, '/v1/images/edits', { method: 'POST', body: form }), 'image', /DICOM/, 'Patient');
      const video = new FormData();
      video.set('prompt', 'x');
      video.set('input_reference', new File([dicomPart10()], 'ref.dcm', { type: 'application/dicom' }));
      await expectBlocked(await gw.authed(key, '/v1/videos', { method: 'POST', body: video }), 'input_reference', /DICOM/, 'Patient');
      const dataUri = `data:image/png;base64,${btoa(String.fromCharCode(...dicomPart10()))}`;
      await expectBlocked(await json(gw, key, '/v1/videos', { prompt: 'x', image_url: dataUri }), 'image_url', /DICOM/, 'Patient');
      expect(await gw.balance(account)).toMatchObject({ balance_micro: 1_000_000, held_micro: 0 });
      expect((await auditOf(gw, account)).filter((e) => e.type === 'phi.blocked').map((e) => e.detail?.class)).toEqual(['dicom', 'dicom', 'dicom']);
    }
  });

  it('an edited JPEG reaches fal without its Exif/XMP/IPTC/comment, orientation kept, scan data byte-identical', async () => {
    const gw = gateway();
    const { key } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    const jpeg = realJpegWithMetadata('MM');
    for (const s of SECRETS.slice(0, 3)) expect(indexOf(jpeg, s), s).toBeGreaterThanOrEqual(0);
    const prompt = uniq('strip on the way');
    const form = new FormData();
    form.set('image', new File([jpeg], 'portrait.jpg', { type: 'image/jpeg' }));
    form.set('prompt', prompt);
    const res = await gw.authed(key, '/v1/images/edits', { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const [call] = await standinCalls(falOrigin(), (c) => (c.body as { prompt?: string })?.prompt === prompt);
    const uri = (call!.body as { image_url: string }).image_url;
    expect(uri.startsWith('data:image/jpeg;base64,')).toBe(true);
    const sent = Uint8Array.from(atob(uri.slice(uri.indexOf(',') + 1)), (ch) => ch.charCodeAt(0));
    for (const s of SECRETS) expect(indexOf(sent, s), s).toBe(-1);
    const kept = jpegSegments(sent).segments.map((g) => g.marker);
    expect(kept.filter((m) => m === 0xed || m === 0xfe)).toEqual([]);
    const before = jpegSegments(jpeg);
    const after = jpegSegments(sent);
    expect(sent.subarray(after.sos)).toEqual(jpeg.subarray(before.sos));
  });

  it('typedInput strips every accepted container and refuses one it cannot vouch for', async () => {
    for (const [bytes, kind, type] of [
      [metadataPng(), 'image', 'image/png'],
      [metadataWav(), 'audio', 'audio/wav'],
      [realJpegWithMetadata('II'), 'image', 'image/jpeg'],
    ] as const) {
      const out = await typedInput(new Blob([bytes]), kind, 'f');
      expect(out.type).toBe(type);
      const b = out.bytes as Uint8Array;
      expect(b.length).toBeLessThan(bytes.length);
      for (const s of SECRETS) expect(indexOf(b, s), `${type} ${s}`).toBe(-1);
    }
    const truncated = metadataPng().subarray(0, 60);
    await expect(typedInput(truncated, 'image', 'image')).rejects.toMatchObject({ status: 400, param: 'image' });
  });

  it('under screening a video URL input is fetched by the gateway and sent stripped; with PHI_SCAN=off fal fetches it', async () => {
    const files = inject('filesUrl');
    for (const mode of ['block', 'off'] as const) {
      const gw = gateway({ ALLOW_INSECURE_URLS: 'true', PHI_SCAN: mode });
      const { key } = await gw.issueKey({ credits_micro: 2_000_000, rpm: 1000 });
      const prompt = uniq(`url input ${mode}`);
      const res = await json(gw, key, '/v1/videos', { prompt, model: 'wan', image_url: `${files}/png`, seconds: 2 });
      expect(res.status).toBe(200);
      const [submit] = await standinCalls(falOrigin(), (c) => c.method === 'POST' && (c.body as { prompt?: string })?.prompt === prompt);
      const sent = (submit!.body as { image_url: string }).image_url;
      if (mode === 'block') expect(sent).toMatch(/^data:image\/png;base64,/);
      else expect(sent).toBe(`${files}/png`);
    }
  });
});

describe('the screening mode', () => {
  it.each(stores)('%s: an operator override per account (audited), and PHI_SCAN=off with a per-account block', async (_name, make) => {
    const gw = make();
    const { key, account } = await gw.issueKey({ credits_micro: 1_000_000, rpm: 1000 });
    const body = { prompt: `${uniq('reviewed')} lab poster, sample SSN ${SSN}` };
    expect((await json(gw, key, '/v1/images/generations', body)).status).toBe(403);
    const set = (mode: string | null) => gw.admin(`/admin/accounts/${account}/phi-scan`, { method: 'PUT', body: JSON.stringify({ mode }) });
    const off = await set('off');
    expect(off.status).toBe(200);
    expect(await off.json()).toEqual({ account, phi_scan: 'off', effective: 'off' });
    expect((await json(gw, key, '/v1/images/generations', body)).status).toBe(200);
    expect((await set(null)).status).toBe(200);
    expect((await json(gw, key, '/v1/images/generations', body)).status).toBe(403);
    expect((await set('maybe')).status).toBe(400);
    expect((await gw.admin('/admin/accounts/no-such-account-x/phi-scan', { method: 'PUT', body: JSON.stringify({ mode: 'off' }) })).status).toBe(404);
    const policy = (await auditOf(gw, account)).filter((e) => e.type === 'phi.policy').map((e) => e.detail?.mode);
    expect(policy).toEqual(['off', null]);
    // Globally off: passes, unless the account asks to be screened. A key issued after the override inherits it.
    const lax = gateway({ UPSTASH_REDIS_REST_URL: gw.env.UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN: gw.env.UPSTASH_REDIS_REST_TOKEN, PHI_SCAN: 'off' });
    expect((await json(lax, key, '/v1/images/generations', body)).status).toBe(200);
    expect((await set('block')).status).toBe(200);
    const later = await lax.issueKey({ account, rpm: 1000 });
    expect((await json(lax, later.key, '/v1/images/generations', body)).status).toBe(403);
    expect((await json(lax, key, '/v1/images/generations', body)).status).toBe(403);
  });
});

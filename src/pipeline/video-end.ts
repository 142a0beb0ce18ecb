// How a video job ends when the provider's answer is not a plain success or failure (issue 24). Two kinds of
// trouble, told apart: an output that can never be delivered (a result naming no video, a file that is not an MP4
// or plays for zero seconds, a refused host, over the size cap) ends the job at once — failed, its hold released in
// the same ledger call, nothing charged; a provider that is down, slow or answering nonsense keeps the job running
// (polls answer the provider's error) until VIDEO_JOB_DEADLINE_SEC after its creation, when the gateway cancels it
// at the provider and fails it the same way. A result that arrives after that is never charged.
import type { Config } from '../config';
import { ApiError, upstreamError } from '../http/errors';
import { rangeReader, type ReadAt } from '../media/mp4';
import { MAX_OUTPUT } from '../media/store';
import { UnusableOutput } from '../providers/unusable';
import type { Asset, Provider } from '../providers/types';
import type { Job } from '../jobs/id';

/** The Video object's error code of a job the gateway ended at its deadline. */
export const DEADLINE_EXCEEDED = 'deadline_exceeded';

/** True once the job has lived VIDEO_JOB_DEADLINE_SEC (its creation time `t` is in its id). */
export const pastDeadline = (cfg: Config, job: Job, nowSec = Math.floor(Date.now() / 1000)) => nowSec >= job.t + cfg.VIDEO_JOB_DEADLINE_SEC;

export const deadlineFailure = (cfg: Config) => ({
  code: DEADLINE_EXCEEDED,
  message: `The video did not finish within ${cfg.VIDEO_JOB_DEADLINE_SEC} s; the gateway cancelled it and nothing was charged`,
});

/** The provider failed to answer usefully (down, slow, nonsense): worth another look later, unlike a ledger failure. */
export const providerFailure = (err: unknown) =>
  err instanceof ApiError && (err.code === 'upstream_error' || err.code === 'upstream_timeout' || err.code === 'provider_unavailable');

/** The total size a range (or whole-file) answer reports, or null. */
function totalOf(res: Response): number | null {
  const range = res.headers.get('content-range')?.match(/\/(\d+)\s*$/)?.[1];
  const n = Number(range ?? (res.status === 200 ? res.headers.get('content-length') : null) ?? NaN);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/**
 * Range reads of the provider's own file, for the MP4 probe of a passed-through output: a refused or failed read is
 * the provider's (transient) failure — never taken for "not an MP4" — and a file the first answer says is larger
 * than the video cap (MAX_OUTPUT, as re-hosting enforces) is unusable.
 */
export function providerReader(provider: Provider, asset: Asset): ReadAt {
  let sized = false;
  return rangeReader(async (range) => {
    const res = await provider.open(asset, range);
    if (res.status === 416) return res; // past the end: read as the end of the file
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel().catch(() => {});
      throw upstreamError(`The output could not be read (HTTP ${res.status})`);
    }
    if (!sized) {
      sized = true;
      const total = totalOf(res);
      if (total !== null && total > MAX_OUTPUT.video) {
        await res.body?.cancel().catch(() => {});
        throw new UnusableOutput('The output is too large', `the file exceeds the ${MAX_OUTPUT.video / 1024 / 1024} MiB size cap`);
      }
    }
    return res;
  });
}

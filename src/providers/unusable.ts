// An output a provider delivered that can never become a usable file, whatever is tried again: a result naming no
// video, bytes that are not the expected type (an MP4), an empty or over-the-cap file, a URL outside the host
// allow-list. Answered synchronously it is a 502 like any provider failure (an image request); for a video job it
// is final — the job ends failed, its hold released and nothing charged (src/pipeline/videos.ts) — where a provider
// that is merely down or slow keeps the job running until VIDEO_JOB_DEADLINE_SEC.
import { ApiError } from '../http/errors';

export class UnusableOutput extends ApiError {
  constructor(
    message: string,
    /** why, in the gateway's words, for a failed job's error message */
    readonly why: string,
  ) {
    super(502, 'upstream_error', message);
  }
}

export const isUnusable = (err: unknown): err is UnusableOutput => err instanceof UnusableOutput;

/** The Video object's error code of a job that ended with no usable video. */
export const NO_USABLE_VIDEO = 'no_usable_video';

/** The failed state of such a job: code and message (never a URL or anything the provider wrote). */
export const noUsableVideo = (why: string) => ({
  status: 'failed' as const,
  code: NO_USABLE_VIDEO,
  message: `The provider returned no usable video (${why}); the job ended and nothing was charged`,
});

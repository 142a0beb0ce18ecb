// One interface for both upstreams. Routes never see fal or ComfyUI specifics.
import type { Route } from '../catalog/resolve';
import type { UrlRules } from '../http/urls';
import type { LoadedInput } from '../media/inputs';
import type { Budget } from './retry';

/** A generated file: a public URL (fal) or a private reference only the gateway may open (worker). */
export type Asset =
  | { kind: 'url'; url: string; contentType: string }
  | { kind: 'worker'; filename: string; subfolder: string; type: string; contentType: string };

export interface ImageRequest {
  prompt: string;
  n: number;
  /** The output size; absent where the model decides it (multi-image edits: from `aspectRatio`). */
  width?: number;
  height?: number;
  /** fal preset name when the size matches one exactly. */
  preset?: string;
  /** `W:H`, for models that take an aspect ratio instead of a size. */
  aspectRatio?: string;
  seed?: number;
  format: 'png' | 'jpeg';
  /** Denoising steps (the request's quality), for the models that take them. */
  steps?: number;
  /** How far an edit may move from its input, 0–1 (fal `strength`, ComfyUI `denoise`). */
  strength?: number;
  /** The images to edit, typed by their bytes: none (text to image), one (image-to-image) or several. */
  images: LoadedInput[];
}

export interface ImageResult {
  assets: Asset[];
  revisedPrompt?: string;
  /** The images' size as the provider reports it (when it does, and all agree). */
  size?: { width: number; height: number };
}

/**
 * A customer input for video (portrait or start image, audio), named by the request field it came from: a URL
 * (fal fetches it itself; for the worker the gateway fetches it under the customer-URL rules), or bytes
 * already typed by their content (uploads, data: URIs).
 */
export type InputFile = { field: string; url: string } | { field: string; loaded: LoadedInput };

export interface VideoRequest {
  prompt: string;
  /** Frames the model is asked for and the rate they play at: seconds = frames / fps. */
  frames: number;
  fps: number;
  width: number;
  height: number;
  seed?: number;
  image?: InputFile;
  audio?: InputFile;
}

/** Where a job is. Queued: `position` = jobs ahead of it (0 = next), when the provider says. */
export type VideoState =
  | { status: 'queued'; position?: number }
  | { status: 'in_progress' }
  | { status: 'completed'; asset: Asset }
  | { status: 'failed'; code: string; message: string };

export interface RunOptions {
  /** Ask the provider to expire its own copies quickly (outputs are re-hosted privately). */
  shortRetention: boolean;
  /** Where the provider should report completion (fal's `fal_webhook`); providers without webhooks ignore it. */
  webhookUrl?: string;
  /** The rules a customer URL must pass before the gateway fetches it (worker-tier inputs). */
  urlRules: UrlRules;
  /** A job not started this many seconds after submission is dropped by the provider, unbilled (fal only). */
  startTimeoutSec?: number;
}

/** A synchronous image run: the request's deadline and attempt count, shared across its attempts and fallbacks. */
export interface ImageRunOptions extends Pick<RunOptions, 'shortRetention'> {
  budget: Budget;
  /** keeps the breakers' background cache reads and writes alive */
  exec?: ExecutionContext;
}

export interface Provider {
  generateImages(route: Route, req: ImageRequest, opts: ImageRunOptions): Promise<ImageResult>;
  submitVideo(route: Route, req: VideoRequest, opts: RunOptions): Promise<string>;
  videoStatus(endpoint: string, requestId: string): Promise<VideoState>;
  /** Opens an asset's bytes (Range passed through when given). */
  open(asset: Asset, range?: string | null): Promise<Response>;
  /** Asks the provider to stop a job (best effort: it may have finished). */
  cancel(endpoint: string, requestId: string): Promise<void>;
}

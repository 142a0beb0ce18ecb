// One interface for both upstreams. Routes never see fal or ComfyUI specifics.
import type { Route } from '../catalog/resolve';

/** A generated file: a public URL (fal) or a private reference only the gateway may open (worker). */
export type Asset =
  | { kind: 'url'; url: string; contentType: string }
  | { kind: 'worker'; filename: string; subfolder: string; type: string; contentType: string };

export interface ImageRequest {
  prompt: string;
  n: number;
  width: number;
  height: number;
  /** fal preset name when the size matches one exactly. */
  preset?: string;
  seed?: number;
  format: 'png' | 'jpeg';
}

export interface ImageResult {
  assets: Asset[];
  revisedPrompt?: string;
}

/** An uploaded or referenced input file for video (portrait image, audio). */
export type InputFile = { url: string } | { file: File };

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

export type VideoState =
  | { status: 'queued' | 'in_progress'; progress: number }
  | { status: 'completed'; asset: Asset }
  | { status: 'failed'; code: string; message: string };

export interface RunOptions {
  /** Ask the provider to expire its own copies quickly (outputs are re-hosted privately). */
  shortRetention: boolean;
}

export interface Provider {
  generateImages(route: Route, req: ImageRequest, opts: RunOptions): Promise<ImageResult>;
  submitVideo(route: Route, req: VideoRequest, opts: RunOptions): Promise<string>;
  videoStatus(endpoint: string, requestId: string): Promise<VideoState>;
  /** Opens an asset's bytes (Range passed through when given). */
  open(asset: Asset, range?: string | null): Promise<Response>;
}

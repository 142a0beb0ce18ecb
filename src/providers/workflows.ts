// ComfyUI API-format workflow templates, one per worker model. `fill` writes the request into a fresh copy.
// Node ids are stable so the adapter knows where prompt, seed, size and inputs go.

type Graph = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

export interface WorkflowInputs {
  prompt: string;
  seed: number;
  width: number;
  height: number;
  batch?: number;
  /** Sampler steps (the request's quality); each template has its own default. */
  steps?: number;
  /** Image-to-image: how much of the input is re-rendered (KSampler denoise). */
  denoise?: number;
  frames?: number;
  fps?: number;
  image?: string;
  audio?: string;
}

const NEGATIVE = 'blurry, distorted, low quality, watermark, text';

const krea2 = (i: WorkflowInputs): Graph => ({
  '1': { class_type: 'UNETLoader', inputs: { unet_name: 'krea2_raw_bf16.safetensors', weight_dtype: 'default' } },
  '2': { class_type: 'CLIPLoader', inputs: { clip_name: 'qwen3_4b_krea2.safetensors', type: 'krea2' } },
  '3': { class_type: 'VAELoader', inputs: { vae_name: 'krea2_vae.safetensors' } },
  '4': { class_type: 'CLIPTextEncode', inputs: { text: i.prompt, clip: ['2', 0] } },
  '5': { class_type: 'ConditioningZeroOut', inputs: { conditioning: ['4', 0] } },
  '6': { class_type: 'EmptySD3LatentImage', inputs: { width: i.width, height: i.height, batch_size: i.batch ?? 1 } },
  '7': {
    class_type: 'KSampler',
    inputs: { model: ['1', 0], positive: ['4', 0], negative: ['5', 0], latent_image: ['6', 0], seed: i.seed, steps: i.steps ?? 28, cfg: 4.5, sampler_name: 'euler', scheduler: 'simple', denoise: 1 },
  },
  '8': { class_type: 'VAEDecode', inputs: { samples: ['7', 0], vae: ['3', 0] } },
  '9': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'phi/krea2' } },
});

/** Krea 2 image-to-image: the input image, scaled to the requested size, encoded and partly re-noised. */
const krea2Edit = (i: WorkflowInputs): Graph => {
  const g = krea2(i);
  g['10'] = { class_type: 'LoadImage', inputs: { image: i.image } };
  g['11'] = { class_type: 'ImageScale', inputs: { image: ['10', 0], upscale_method: 'lanczos', width: i.width, height: i.height, crop: 'center' } };
  g['12'] = { class_type: 'VAEEncode', inputs: { pixels: ['11', 0], vae: ['3', 0] } };
  g['13'] = { class_type: 'RepeatLatentBatch', inputs: { samples: ['12', 0], amount: i.batch ?? 1 } };
  delete g['6'];
  g['7']!.inputs = { ...g['7']!.inputs, latent_image: ['13', 0], denoise: i.denoise ?? 0.75 };
  return g;
};

const wanBase = (i: WorkflowInputs): Graph => ({
  '1': { class_type: 'UNETLoader', inputs: { unet_name: 'bernini_wan2.2_14b_fp8.safetensors', weight_dtype: 'fp8_e4m3fn' } },
  '2': { class_type: 'CLIPLoader', inputs: { clip_name: 'umt5_xxl_fp8_e4m3fn_scaled.safetensors', type: 'wan' } },
  '3': { class_type: 'VAELoader', inputs: { vae_name: 'wan_2.1_vae.safetensors' } },
  '4': { class_type: 'CLIPTextEncode', inputs: { text: i.prompt, clip: ['2', 0] } },
  '5': { class_type: 'CLIPTextEncode', inputs: { text: NEGATIVE, clip: ['2', 0] } },
  '6': { class_type: 'ModelSamplingSD3', inputs: { model: ['1', 0], shift: 8 } },
  '8': {
    class_type: 'KSampler',
    inputs: { model: ['6', 0], positive: ['4', 0], negative: ['5', 0], latent_image: ['7', 0], seed: i.seed, steps: 20, cfg: 5, sampler_name: 'uni_pc', scheduler: 'simple', denoise: 1 },
  },
  '9': { class_type: 'VAEDecode', inputs: { samples: ['8', 0], vae: ['3', 0] } },
  '10': { class_type: 'CreateVideo', inputs: { images: ['9', 0], fps: i.fps ?? 16 } },
  '11': { class_type: 'SaveVideo', inputs: { video: ['10', 0], filename_prefix: 'phi/bernini', format: 'mp4', codec: 'h264' } },
});

const bernini = (i: WorkflowInputs): Graph => ({
  ...wanBase(i),
  '7': { class_type: 'EmptyHunyuanLatentVideo', inputs: { width: i.width, height: i.height, length: i.frames, batch_size: 1 } },
});

const berniniI2v = (i: WorkflowInputs): Graph => {
  const g = wanBase(i);
  g['12'] = { class_type: 'LoadImage', inputs: { image: i.image } };
  g['7'] = {
    class_type: 'WanImageToVideo',
    inputs: { positive: ['4', 0], negative: ['5', 0], vae: ['3', 0], start_image: ['12', 0], width: i.width, height: i.height, length: i.frames, batch_size: 1 },
  };
  // WanImageToVideo returns (positive, negative, latent).
  g['8']!.inputs = { ...g['8']!.inputs, positive: ['7', 0], negative: ['7', 1], latent_image: ['7', 2] };
  return g;
};

const infinitetalk = (i: WorkflowInputs): Graph => ({
  '1': { class_type: 'UNETLoader', inputs: { unet_name: 'wan2.1_i2v_480p_14B_fp8.safetensors', weight_dtype: 'fp8_e4m3fn' } },
  '2': { class_type: 'CLIPLoader', inputs: { clip_name: 'umt5_xxl_fp8_e4m3fn_scaled.safetensors', type: 'wan' } },
  '3': { class_type: 'VAELoader', inputs: { vae_name: 'wan_2.1_vae.safetensors' } },
  '4': { class_type: 'CLIPTextEncode', inputs: { text: i.prompt, clip: ['2', 0] } },
  '5': { class_type: 'CLIPTextEncode', inputs: { text: NEGATIVE, clip: ['2', 0] } },
  '6': { class_type: 'LoadImage', inputs: { image: i.image } },
  '7': { class_type: 'LoadAudio', inputs: { audio: i.audio } },
  '8': { class_type: 'AudioEncoderLoader', inputs: { audio_encoder_name: 'wav2vec2_chinese_base_fp16.safetensors' } },
  '9': { class_type: 'AudioEncoderEncode', inputs: { audio_encoder: ['8', 0], audio: ['7', 0] } },
  '10': { class_type: 'ModelPatchLoader', inputs: { name: 'wan2.1_infinitetalk_single_fp16.safetensors' } },
  '11': {
    class_type: 'WanInfiniteTalkToVideo',
    inputs: {
      model: ['1', 0], model_patch: ['10', 0], positive: ['4', 0], negative: ['5', 0], vae: ['3', 0],
      audio_encoder_output_1: ['9', 0], start_image: ['6', 0], width: i.width, height: i.height, length: i.frames,
      mode: 'single_speaker', audio_scale: 1, motion_frame_count: 9,
    },
  },
  '12': {
    class_type: 'KSampler',
    inputs: { model: ['11', 0], positive: ['11', 1], negative: ['11', 2], latent_image: ['11', 3], seed: i.seed, steps: 6, cfg: 1, sampler_name: 'euler', scheduler: 'simple', denoise: 1 },
  },
  '13': { class_type: 'VAEDecode', inputs: { samples: ['12', 0], vae: ['3', 0] } },
  '14': {
    class_type: 'VHS_VideoCombine',
    inputs: { images: ['13', 0], audio: ['7', 0], frame_rate: i.fps ?? 25, loop_count: 0, filename_prefix: 'phi/avatar', format: 'video/h264-mp4', pingpong: false, save_output: true },
  },
});

export const WORKFLOWS: Record<string, (i: WorkflowInputs) => Graph> = {
  'krea-2': krea2,
  'krea-2-edit': krea2Edit,
  bernini,
  'bernini-i2v': berniniI2v,
  infinitetalk,
};

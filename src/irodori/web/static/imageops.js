// Pixels in the browser as the pipeline (irodori.colorize.pipeline) sees them: a file decoded to RGBA, the line art as
// grey values in [0, 1], the hint layer, the working size, and the resizes it makes with OpenCV (area to
// shrink, bilinear or nearest to grow, bicubic to bring the model's colors back to the drawing's size).
// Images are flat Float32Arrays in raster order with `ch` interleaved channels.

import { roundHalfEven } from './hints.js';

const f32 = Math.fround;
const GREY = [0.299, 0.587, 0.114].map(f32);

/** A Blob or File decoded to an ImageData at its own size (orientation applied, no colour management). */
export async function decode(blob) {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const ctx = new OffscreenCanvas(bitmap.width, bitmap.height).getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return ctx.getImageData(0, 0, ctx.canvas.width, ctx.canvas.height);
}

/** The line art (irodori.colorize.pipeline.lineart_to_unit): RGBA over white paper, as grey values in [0, 1]. */
export function lineToUnit({ data, width, height }) {
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) {
    const a = f32(data[4 * i + 3] / 255);
    let g = 0;
    for (let c = 0; c < 3; c++) g = f32(g + f32(f32(f32(data[4 * i + c] * a) + f32(255 * f32(1 - a))) * GREY[c]));
    out[i] = Math.min(1, Math.max(0, f32(g / 255)));
  }
  return out;
}

/** The hint layer of an RGBA image: {rgb (Uint8Array H×W×3), mask (Uint8Array H×W, alpha > 0)}. */
export function hintLayer({ data, width, height }) {
  const rgb = new Uint8Array(3 * width * height), mask = new Uint8Array(width * height);
  for (let i = 0; i < mask.length; i++) {
    mask[i] = data[4 * i + 3] > 0 ? 1 : 0;
    if (mask[i]) for (let c = 0; c < 3; c++) rgb[3 * i + c] = data[4 * i + c];
  }
  return { rgb, mask };
}

/** [h, w] with the long side `longSide` (rounded to `multiple`) and the aspect kept (pipeline.working_size). */
export function workingSize(height, width, longSide, multiple = 16) {
  longSide = Math.max(multiple, roundHalfEven(longSide / multiple) * multiple);
  const scale = longSide / Math.max(height, width);
  return [Math.max(multiple, roundHalfEven(height * scale / multiple) * multiple),
    Math.max(multiple, roundHalfEven(width * scale / multiple) * multiple)];
}

// Per output index along one axis: the source samples and weights of a resize from n to m.
function areaTaps(n, m) {
  const scale = n / m, taps = [];
  for (let d = 0; d < m; d++) {
    const x0 = d * scale, x1 = (d + 1) * scale, list = [];
    for (let s = Math.floor(x0); s < Math.min(n, Math.ceil(x1)); s++) {
      const w = Math.min(x1, s + 1) - Math.max(x0, s);
      if (w > 1e-12) list.push([s, w / scale]);
    }
    taps.push(list);
  }
  return taps;
}

function linearTaps(n, m) {
  const scale = n / m, taps = [];
  for (let d = 0; d < m; d++) {
    const x = (d + 0.5) * scale - 0.5, s = Math.floor(x), t = x - s;
    const at = (k) => Math.min(n - 1, Math.max(0, k));
    taps.push([[at(s), 1 - t], [at(s + 1), t]]);
  }
  return taps;
}

function nearestTaps(n, m) {
  const scale = n / m;
  return Array.from({ length: m }, (_, d) => [[Math.min(n - 1, Math.floor(d * scale)), 1]]);
}

function cubicTaps(n, m) {
  const A = -0.75, scale = n / m, taps = [];
  for (let d = 0; d < m; d++) {
    const x = (d + 0.5) * scale - 0.5, s = Math.floor(x), t = x - s;
    const w0 = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
    const w1 = ((A + 2) * t - (A + 3)) * t * t + 1;
    const w2 = ((A + 2) * (1 - t) - (A + 3)) * (1 - t) * (1 - t) + 1;
    const at = (k) => Math.min(n - 1, Math.max(0, k));
    taps.push([[at(s - 1), w0], [at(s), w1], [at(s + 1), w2], [at(s + 2), 1 - w0 - w1 - w2]]);
  }
  return taps;
}

const TAPS = { area: areaTaps, linear: linearTaps, nearest: nearestTaps, cubic: cubicTaps };

/** `src` (h×w×ch) resized to oh×ow with `kind`: area, linear, nearest or cubic (separable, rows then columns). */
export function resize(src, w, h, ch, ow, oh, kind) {
  if (ow === w && oh === h) return Float32Array.from(src);
  const tx = TAPS[kind](w, ow), ty = TAPS[kind](h, oh);
  const tmp = new Float64Array(h * ow * ch);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      for (const [s, wt] of tx[x]) for (let c = 0; c < ch; c++) tmp[(y * ow + x) * ch + c] += wt * src[(y * w + s) * ch + c];
    }
  }
  const out = new Float32Array(oh * ow * ch);
  for (let y = 0; y < oh; y++) {
    for (const [s, wt] of ty[y]) {
      const o = y * ow * ch, i = s * ow * ch;
      for (let k = 0; k < ow * ch; k++) out[o + k] += wt * tmp[i + k];
    }
  }
  return out;
}

/** The model's inputs at h×w from the line art and hints at H×W (pipeline.model_colors, hint_input.resize_hints,
 * colorize.imageio.model_inputs): NCHW Float32Arrays {line, hint, mask} in [-1, 1], [-1, 1] × mask and {0, 1}. */
export function modelInputs(line, hints, W, H, w, h) {
  const shrink = h < H || w < W;
  const lineLr = resize(line, W, H, 1, w, h, shrink ? 'area' : 'linear');
  const maskF = Float32Array.from(hints.mask);
  const rgbF = new Float32Array(3 * W * H);
  for (let i = 0; i < maskF.length; i++) for (let c = 0; c < 3; c++) rgbF[3 * i + c] = hints.mask[i] ? f32(hints.rgb[3 * i + c] / 255) : 0;
  const m = resize(maskF, W, H, 1, w, h, shrink ? 'area' : 'nearest');
  const rgb = resize(rgbF, W, H, 3, w, h, shrink ? 'area' : 'nearest');
  const n = w * h;
  const inputs = { line: new Float32Array(n), hint: new Float32Array(3 * n), mask: new Float32Array(n) };
  for (let i = 0; i < n; i++) {
    const hit = m[i] > 1e-6;
    inputs.line[i] = lineLr[i] * 2 - 1;
    inputs.mask[i] = hit ? 1 : 0;
    for (let c = 0; c < 3; c++) {
      const v = hit ? Math.min(1, Math.max(0, rgb[3 * i + c] / Math.max(m[i], 1e-6))) : 0;
      inputs.hint[c * n + i] = hit ? v * 2 - 1 : 0;
    }
  }
  return inputs;
}

/** The model's NCHW output in [-1, 1] at h×w as H×W×3 colors in [0, 1] (bicubic when sizes differ). */
export function modelColors(out, w, h, W, H) {
  const n = w * h, rgb = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) rgb[3 * i + c] = (Math.min(1, Math.max(-1, out[c * n + i])) + 1) * 0.5;
  const full = resize(rgb, w, h, 3, W, H, 'cubic');
  for (let i = 0; i < full.length; i++) full[i] = Math.min(1, Math.max(0, full[i]));
  return full;
}

/** RGBA bytes (W×H) as a PNG Blob. */
export function pngBlob(rgba, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  canvas.getContext('2d').putImageData(new ImageData(rgba, width, height), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

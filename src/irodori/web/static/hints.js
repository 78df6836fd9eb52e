// The hint layer as data: pure functions over RGBA pixel arrays (the page keeps the layer in an ImageData
// at the line art's size; alpha is 0 or 255, so every hinted pixel carries an exact color).
//
// The JSON form is the CLI's --hints file (irodori.colorize.hint_input): a list of {"x", "y", "color", "size"},
// each hint a square of side `size` centred on (x, y) in the line art's pixels. Saving splits the painted
// pixels into one-color squares, so the file draws back exactly the same pixels, in the page or the CLI.

export const MAX_HINTS = 10000;
export const MAX_HINT_SIZE = 512;
const COLOR = /^#[0-9a-fA-F]{6}$/;

export class HintError extends Error {}

const hex2 = (v) => v.toString(16).padStart(2, '0');
export const rgbToHex = (r, g, b) => `#${hex2(r)}${hex2(g)}${hex2(b)}`;
export const hexToRgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

// Python's round(): halves go to the even neighbour (the server's default size uses it).
export function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The size the server gives a hint that names none (irodori.colorize.hint_input.default_hint_size). */
export const defaultHintSize = (height, width) => Math.max(3, roundHalfEven(Math.max(height, width) / 96));

/** Paint a hard-edged disc of diameter `size` centred on (cx, cy): every pixel whose centre lies inside
 * it (a disc smaller than a pixel still marks the pixel it is in). Returns the box it touched, or null. */
export function stampDisc(data, width, height, cx, cy, size, rgba) {
  const r = size / 2;
  const x0 = Math.max(0, Math.floor(cx - r)), x1 = Math.min(width - 1, Math.ceil(cx + r));
  const y0 = Math.max(0, Math.floor(cy - r)), y1 = Math.min(height - 1, Math.ceil(cy + r));
  let hit = false;
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      if (dx * dx + dy * dy > r * r) continue;
      data.set(rgba, (y * width + x) * 4);
      hit = true;
    }
  }
  if (hit) return { x0, y0, x1, y1 };
  const x = Math.floor(cx), y = Math.floor(cy);
  if (x < 0 || y < 0 || x >= width || y >= height) return null;
  data.set(rgba, (y * width + x) * 4);
  return { x0: x, y0: y, x1: x, y1: y };
}

/** The painted pixels as CLI hints: one-color squares, greedily the largest at each uncovered pixel in
 * reading order. Drawing them (drawHints) gives back exactly the same pixels. */
export function hintSquares(data, width, height) {
  const n = width * height;
  const same = (i, j) => data[j * 4 + 3] !== 0 && data[i * 4] === data[j * 4] && data[i * 4 + 1] === data[j * 4 + 1]
    && data[i * 4 + 2] === data[j * 4 + 2];
  // side[i]: the largest one-color square of hinted pixels with its top-left corner at pixel i.
  const side = new Uint16Array(n);
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      if (!data[i * 4 + 3]) continue;
      const inside = x + 1 < width && y + 1 < height;
      side[i] = inside && same(i, i + 1) && same(i, i + width) && same(i, i + width + 1)
        ? 1 + Math.min(side[i + 1], side[i + width], side[i + width + 1]) : 1;
    }
  }
  const covered = new Uint8Array(n);
  const hints = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!data[i * 4 + 3] || covered[i]) continue;
      const s = Math.min(side[i], MAX_HINT_SIZE);
      for (let yy = y; yy < y + s; yy++) covered.fill(1, yy * width + x, yy * width + x + s);
      const c = (s - 1) / 2;
      hints.push({ x: x + c, y: y + c, color: rgbToHex(data[i * 4], data[i * 4 + 1], data[i * 4 + 2]), size: s });
    }
  }
  return hints;
}

/** Hints as the text of a --hints file: one hint a line. */
export function hintJsonText(hints) {
  return hints.length ? `[\n${hints.map((h) => `  ${JSON.stringify(h)}`).join(',\n')}\n]\n` : '[]\n';
}

const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);

/** Check a --hints file against the line art's size, with the server's rules and messages
 * (irodori.colorize.hint_input.validate_hints). Returns [{x, y, rgb, size}] or throws HintError. */
export function parseHintJson(text, height, width, source = 'hints') {
  let entries;
  try {
    entries = JSON.parse(text);
  } catch (err) {
    throw new HintError(`${source}: not valid JSON (${err.message})`);
  }
  if (!Array.isArray(entries)) {
    throw new HintError(`${source}: expected a JSON list of {"x", "y", "color", "size"} objects`);
  }
  if (entries.length > MAX_HINTS) {
    throw new HintError(`${source}: ${entries.length} hints is more than the limit of ${MAX_HINTS}`);
  }
  return entries.map((e, i) => {
    const where = `${source}: hint #${i}`;
    if (e === null || typeof e !== 'object' || Array.isArray(e)) {
      throw new HintError(`${where}: expected an object with x, y, color[, size]`);
    }
    const missing = ['color', 'x', 'y'].filter((k) => !(k in e));
    if (missing.length) throw new HintError(`${where}: missing ${missing.join(', ')}`);
    const unknown = Object.keys(e).filter((k) => !['x', 'y', 'color', 'size'].includes(k)).sort();
    if (unknown.length) throw new HintError(`${where}: unknown key(s) ${unknown.join(', ')} (allowed: x, y, color, size)`);
    for (const k of ['x', 'y']) if (!isNumber(e[k])) throw new HintError(`${where}: ${k} must be a finite number`);
    if (!(e.x >= 0 && e.x < width && e.y >= 0 && e.y < height)) {
      throw new HintError(`${where}: point (${e.x}, ${e.y}) lies outside the ${width}x${height} line art`);
    }
    const size = 'size' in e ? e.size : defaultHintSize(height, width);
    if (!isNumber(size) || !Number.isInteger(size) || size < 1 || size > MAX_HINT_SIZE) {
      throw new HintError(`${where}: size must be an integer in 1..${MAX_HINT_SIZE}`);
    }
    if (typeof e.color !== 'string' || !COLOR.test(e.color)) {
      throw new HintError(`${where}: color must look like "#rrggbb"`);
    }
    return { x: e.x, y: e.y, rgb: hexToRgb(e.color), size };
  });
}

/** Draw parsed hints as the server does (irodori.colorize.hint_input.draw_hints): squares, clipped to the image. */
export function drawHints(data, width, height, hints) {
  for (const h of hints) {
    const x0 = Math.floor(h.x - (h.size - 1) / 2), y0 = Math.floor(h.y - (h.size - 1) / 2);
    const xa = Math.max(0, x0), xb = Math.min(width, x0 + h.size);
    const ya = Math.max(0, y0), yb = Math.min(height, y0 + h.size);
    const rgba = [...h.rgb, 255];
    for (let y = ya; y < yb; y++) for (let x = xa; x < xb; x++) data.set(rgba, (y * width + x) * 4);
  }
}

/** Hinted pixels, and their colors by frequency (most used first). */
export function hintStats(data) {
  const counts = new Map();
  let pixels = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (!data[i + 3]) continue;
    pixels++;
    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const colors = [...counts].sort((a, b) => b[1] - a[1])
    .map(([k]) => rgbToHex((k >> 16) & 255, (k >> 8) & 255, k & 255));
  return { pixels, colors };
}

/** The hint pixels of an RGBA hint image (alpha > 0 marks a hint) at the line art's size: rescaled to it
 * (nearest) when the aspect ratio matches, as the server does; throws HintError otherwise. */
export async function hintPixelsFromImage(file, width, height) {
  const bitmap = await createImageBitmap(file);
  const { width: w, height: h } = bitmap;
  if (Math.abs(w / h - width / height) > 0.01 * (width / height)) {
    throw new HintError(`${file.name}: its size ${w}x${h} does not have the line art's aspect ratio (${width}x${height})`);
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const data = ctx.getImageData(0, 0, width, height).data;
  for (let i = 3; i < data.length; i += 4) data[i] = data[i] ? 255 : 0;
  return data;
}

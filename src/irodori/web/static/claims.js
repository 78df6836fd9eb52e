// What each hint did, drawn over the hints: the region under the brush or a hovered hint is outlined, and a
// hint that claimed nothing is ringed, with the reason in words (the server's irodori.colorize.claims.hint_report).
//
// The server sends the line art's regions as a PNG (label = R + 256·G + 65536·B) with every preview. Regions
// depend only on the line art and the gap closing, never on the hints, so the last map also outlines the
// region under a stroke that is still being painted.

/** The region labels of a region-map PNG (Blob), as a Uint32Array of width × height. */
export async function decodeRegions(blob, width, height) {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const ctx = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close?.();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const labels = new Uint32Array(width * height);
  for (let i = 0; i < labels.length; i++) labels[i] = rgba[i * 4] | (rgba[i * 4 + 1] << 8) | (rgba[i * 4 + 2] << 16);
  return labels;
}

/** The pixels on the edge of the regions in `wanted` (a Set of labels), 2 px wide: a Uint8Array mask. */
export function outlineMask(labels, width, height, wanted) {
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!wanted.has(labels[i])) continue;
      const l = labels[i];
      const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 || labels[i - 1] !== l
        || labels[i + 1] !== l || labels[i - width] !== l || labels[i + width] !== l;
      if (!edge) continue;
      mask[i] = 1;
      if (x > 0) mask[i - 1] = 1;
      if (y > 0) mask[i - width] = 1;
    }
  }
  return mask;
}

export class ClaimsView {
  /** `canvas`: an overlay at the line art's size above the hints; `note`: where a hovered hint's story goes. */
  constructor(canvas, note) {
    Object.assign(this, { canvas, note, ctx: canvas.getContext('2d'), labels: null, hints: [], count: 0,
      width: 0, height: 0, shown: '', summary: '' });
  }

  reset(width, height) {
    Object.assign(this, { labels: null, hints: [], count: 0, width, height, shown: '', summary: '' });
    this.canvas.width = width;
    this.canvas.height = height;
    this.note.textContent = '';
    this.draw(null);
  }

  /** Take a preview's claims ({hints, count, unclaimed, regions: Blob}); resolves once the map is decoded. */
  async set(claims) {
    this.hints = claims.hints;
    this.count = claims.count;
    this.labels = await decodeRegions(claims.regions, this.width, this.height);
    const missed = this.unclaimed;
    this.summary = missed.length ? `${missed.length === 1 ? 'A hint claims' : `${missed.length} hints claim`} nothing `
      + `(ringed in red): ${missed[0].why}.` : '';
    this.note.textContent = this.summary;
    this.shown = '';
    this.draw(null);
  }

  get unclaimed() { return this.hints.filter((h) => h.reason); }

  /** The report entry of the hint at (x, y) of the hint layer `data` (RGBA), or null. */
  hintAt(x, y, data) {
    x = Math.floor(x); y = Math.floor(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || !data[(y * this.width + x) * 4 + 3]) return null;
    let best = null;
    let bestD = Infinity;
    for (const h of this.hints) {
      const [x0, y0, x1, y1] = h.box;
      if (x < x0 || x > x1 || y < y0 || y > y1) continue;
      const d = (h.x - x) ** 2 + (h.y - y) ** 2;
      if (d < bestD) { best = h; bestD = d; }
    }
    return best;
  }

  /** Outline the region under (x, y): while painting, before the preview says what the stroke claimed. */
  showRegionAt(x, y) {
    if (!this.labels) return;
    x = Math.floor(x); y = Math.floor(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.outline([this.labels[y * this.width + x]], `region:${this.labels[y * this.width + x]}`);
  }

  /** Outline what the hovered hint claimed, and say it (or why it claimed nothing). */
  showHint(hint) {
    if (!hint) { this.clearHighlight(); return; }
    const n = hint.regions.length;
    this.note.textContent = hint.reason ? `This hint claims nothing: ${hint.why}.`
      : `This hint claims ${n === 1 ? 'the outlined region' : `${n} outlined regions`}.`;
    this.outline(hint.regions, `hint:${hint.x},${hint.y}`);
  }

  clearHighlight() {
    if (!this.shown) return;
    this.note.textContent = this.summary;
    this.shown = '';
    this.draw(null);
  }

  outline(labels, key) {
    if (key === this.shown) return;
    this.shown = key;
    this.draw(outlineMask(this.labels, this.width, this.height, new Set(labels)));
  }

  /** Redraw: the outline `mask` (or none), then a ring around every hint that claimed nothing. */
  draw(mask) {
    const { ctx, width, height } = this;
    ctx.clearRect(0, 0, width, height);
    if (!width) return;
    if (mask) {
      const image = ctx.createImageData(width, height);
      for (let i = 0; i < mask.length; i++) {
        if (!mask[i]) continue;
        const odd = ((i % width) + Math.floor(i / width)) % 8 < 4;  // dashes: visible on any color
        image.data.set(odd ? [20, 20, 24, 255] : [255, 255, 255, 255], i * 4);
      }
      ctx.putImageData(image, 0, 0);
    }
    const line = Math.max(2, Math.max(width, height) / 250);
    ctx.lineWidth = line;
    for (const h of this.unclaimed) {
      const [x0, y0, x1, y1] = h.box;
      const r = Math.max(x1 - x0, y1 - y0) / 2 + 3 * line;
      ctx.strokeStyle = '#ffffff';
      ctx.beginPath();
      ctx.arc((x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2, r + line, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.strokeStyle = '#d42a2a';
      ctx.setLineDash([3 * line, 2 * line]);
      ctx.beginPath();
      ctx.arc((x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2, r, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.setLineDash([]);
    }
  }
}

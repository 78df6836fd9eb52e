// The hint layer on its canvas, with strokes and an undo history.
//
// `pixels` (an ImageData at the line art's size) is what is on screen; `committed` is the layer as of the
// last undo step. A stroke paints into `pixels` and closes a step when it ends; each step stores only the
// rectangle it touched, before and after, and the history keeps the newest steps within UNDO_BYTES.

import { stampDisc } from './hints.js';

const UNDO_BYTES = 256 * 2 ** 20;

const grow = (box, b) => (box ? { x0: Math.min(box.x0, b.x0), y0: Math.min(box.y0, b.y0), x1: Math.max(box.x1, b.x1),
  y1: Math.max(box.y1, b.y1) } : b);
const boxRect = (b) => ({ x: b.x0, y: b.y0, w: b.x1 - b.x0 + 1, h: b.y1 - b.y0 + 1 });
const sameBytes = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

export class HintLayer {
  /** `onChange()` runs after every change that closes a step, undo and redo included. */
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d', { willReadFrequently: true });
    this.onChange = onChange;
    this.width = this.height = 0;
    this.pixels = null;
    this.committed = null;
    this.undoSteps = []; this.redoSteps = []; this.undoBytes = 0;
    this.stroke = null;  // {rgba, last, box}
    this.dirty = null;   // the box painted since the last flush
  }

  reset(width, height) {
    Object.assign(this, { width, height, stroke: null, dirty: null, undoSteps: [], redoSteps: [], undoBytes: 0 });
    this.canvas.width = width;
    this.canvas.height = height;
    this.pixels = new ImageData(width, height);
    this.committed = new Uint8ClampedArray(width * height * 4);
    this.ctx.putImageData(this.pixels, 0, 0);
  }

  get data() { return this.pixels.data; }
  get canUndo() { return this.undoSteps.length > 0; }
  get canRedo() { return this.redoSteps.length > 0; }

  /** Hinted pixels. */
  count() {
    const data = this.pixels.data;
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]) n++;
    return n;
  }

  toBlob() { return new Promise((resolve) => this.canvas.toBlob(resolve, 'image/png')); }

  // -- strokes

  stamp(p, size, rgba) {
    const box = stampDisc(this.pixels.data, this.width, this.height, p.x, p.y, size, rgba);
    if (!box) return;
    this.dirty = grow(this.dirty, box);
    if (this.stroke) this.stroke.box = grow(this.stroke.box, box);
  }

  beginStroke(p, size, rgba) {
    this.stroke = { rgba, last: p, box: null };
    this.stamp(p, size, rgba);
    this.flush();
  }

  strokeTo(points, size) {
    const s = this.stroke;
    for (const p of points) {
      const steps = Math.max(1, Math.ceil(Math.hypot(p.x - s.last.x, p.y - s.last.y) / Math.max(0.5, size / 4)));
      for (let i = 1; i <= steps; i++) {
        this.stamp({ x: s.last.x + (p.x - s.last.x) * i / steps, y: s.last.y + (p.y - s.last.y) * i / steps }, size, s.rgba);
      }
      s.last = p;
    }
    this.flush();
  }

  /** Close the stroke as an undo step; false when it changed nothing. */
  endStroke() {
    const s = this.stroke;
    this.stroke = null;
    this.flush();
    return !!s?.box && this.commit(boxRect(s.box));
  }

  /** Drop the stroke: its pixels go back to what they were. */
  cancelStroke() {
    const s = this.stroke;
    this.stroke = null;
    this.dirty = null;
    if (!s?.box) return;
    const rect = boxRect(s.box);
    this.paste(this.pixels.data, rect, this.copy(this.committed, rect));
    this.ctx.putImageData(this.pixels, 0, 0, rect.x, rect.y, rect.w, rect.h);
  }

  flush() {
    const d = this.dirty;
    if (!d) return;
    this.ctx.putImageData(this.pixels, 0, 0, d.x0, d.y0, d.x1 - d.x0 + 1, d.y1 - d.y0 + 1);
    this.dirty = null;
  }

  // -- whole-layer changes, each one undo step

  clear() {
    if (this.stroke) return false;
    this.pixels.data.fill(0);
    this.ctx.putImageData(this.pixels, 0, 0);
    return this.commit({ x: 0, y: 0, w: this.width, h: this.height });
  }

  replace(rgba) {
    if (this.stroke) return false;
    this.pixels.data.set(rgba);
    this.ctx.putImageData(this.pixels, 0, 0);
    return this.commit({ x: 0, y: 0, w: this.width, h: this.height });
  }

  // -- history

  copy(src, { x, y, w, h }) {
    const out = new Uint8ClampedArray(w * h * 4);
    for (let row = 0; row < h; row++) {
      const at = ((y + row) * this.width + x) * 4;
      out.set(src.subarray(at, at + w * 4), row * w * 4);
    }
    return out;
  }

  paste(dst, { x, y, w, h }, pixels) {
    for (let row = 0; row < h; row++) dst.set(pixels.subarray(row * w * 4, (row + 1) * w * 4), ((y + row) * this.width + x) * 4);
  }

  // Close an undo step over `rect` (the pixels may have changed there since the last step).
  commit(rect) {
    const before = this.copy(this.committed, rect);
    const after = this.copy(this.pixels.data, rect);
    if (sameBytes(before, after)) return false;
    this.paste(this.committed, rect, after);
    this.undoSteps.push({ rect, before, after });
    this.undoBytes += before.length * 2;
    while (this.undoBytes > UNDO_BYTES && this.undoSteps.length > 1) this.undoBytes -= this.undoSteps.shift().before.length * 2;
    this.redoSteps = [];
    this.onChange();
    return true;
  }

  apply(step, pixels) {
    this.paste(this.pixels.data, step.rect, pixels);
    this.paste(this.committed, step.rect, pixels);
    const { x, y, w, h } = step.rect;
    this.ctx.putImageData(this.pixels, 0, 0, x, y, w, h);
    this.onChange();
  }

  undo() {
    if (this.stroke || !this.undoSteps.length) return;
    const step = this.undoSteps.pop();
    this.undoBytes -= step.before.length * 2;
    this.redoSteps.push(step);
    this.apply(step, step.before);
  }

  redo() {
    if (this.stroke || !this.redoSteps.length) return;
    const step = this.redoSteps.pop();
    this.undoSteps.push(step);
    this.undoBytes += step.before.length * 2;
    this.apply(step, step.after);
  }
}

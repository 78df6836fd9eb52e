// Zoom and pan for the painting stages. Two fingers pinch and pan on a touch screen; Ctrl+wheel (a
// trackpad pinch) zooms at the pointer and the wheel pans while zoomed. One transform moves every stage,
// so the hint layer and the result stay in register. A pinch never paints: `onPinch` is called when the
// second finger lands, and the page drops the stroke the first finger began.

export const MAX_ZOOM = 16;

export class StageZoom {
  /** `panes`: [{surface, stage}], the element that takes the gestures and the stage inside it. */
  constructor(panes, { onPinch = () => {}, onChange = () => {}, enabled = () => true } = {}) {
    this.panes = panes;
    this.onPinch = onPinch;
    this.onChange = onChange;
    this.enabled = enabled;
    this.zoom = 1;
    this.tx = 0;
    this.ty = 0;
    this.touches = new Map();  // pointerId -> {x, y}, the touch points down on a surface
    this.gesture = null;       // {stage, zoom, tx, ty, mx, my, dist}: the state when the fingers last changed
    for (const pane of panes) this.listen(pane);
  }

  /** True from the second finger until every finger is lifted: no painting then. */
  get pinching() { return this.gesture !== null; }

  listen({ surface, stage }) {
    surface.addEventListener('pointerdown', (e) => {
      if (e.pointerType !== 'touch' || !this.enabled()) return;
      this.touches.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (this.touches.size < 2) return;
      if (!this.gesture) this.onPinch();
      for (const id of this.touches.keys()) {
        try { surface.setPointerCapture(id); } catch { /* lifted meanwhile */ }
      }
      this.begin(stage);
    });
    surface.addEventListener('pointermove', (e) => {
      if (!this.touches.has(e.pointerId)) return;
      this.touches.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (this.gesture) this.follow();
    });
    const lift = (e) => {
      if (!this.touches.delete(e.pointerId)) return;
      if (!this.touches.size) this.gesture = null;
      else if (this.gesture) this.begin(this.gesture.stage);  // the fingers left pan on
    };
    surface.addEventListener('pointerup', lift);
    surface.addEventListener('pointercancel', lift);
    surface.addEventListener('wheel', (e) => {
      if (!this.enabled()) return;
      if (e.ctrlKey) {
        e.preventDefault();
        this.zoomAt(stage, e.clientX, e.clientY, this.zoom * Math.exp(-e.deltaY * (e.deltaMode ? 0.05 : 0.002)));
      } else if (this.zoom > 1) {
        e.preventDefault();
        const k = e.deltaMode ? 16 : 1;
        this.set(this.zoom, this.tx - (e.shiftKey ? e.deltaY : e.deltaX) * k, this.ty - (e.shiftKey ? 0 : e.deltaY) * k);
      }
    }, { passive: false });
  }

  centre() {
    const pts = [...this.touches.values()];
    const mx = pts.reduce((s, p) => s + p.x, 0) / pts.length, my = pts.reduce((s, p) => s + p.y, 0) / pts.length;
    const dist = pts.length > 1 ? Math.hypot(pts[0].x - pts[1].x, pts[0].y - pts[1].y) : 0;
    return { mx, my, dist };
  }

  begin(stage) {
    this.gesture = { stage, zoom: this.zoom, tx: this.tx, ty: this.ty, ...this.centre() };
  }

  follow() {
    const g = this.gesture;
    const { mx, my, dist } = this.centre();
    const zoom = g.dist > 0 && dist > 0 ? g.zoom * dist / g.dist : g.zoom;
    this.zoomFrom(g, mx, my, zoom);
  }

  // The point under (g.mx, g.my) at the start of the gesture goes under (mx, my) at zoom `zoom`.
  zoomFrom(g, mx, my, zoom) {
    const z = Math.min(MAX_ZOOM, Math.max(1, zoom));
    const r = g.stage.getBoundingClientRect();
    const left = r.left - this.tx, top = r.top - this.ty;  // the stage's place without the transform
    const qx = (g.mx - left - g.tx) / g.zoom, qy = (g.my - top - g.ty) / g.zoom;
    this.set(z, mx - left - z * qx, my - top - z * qy);
  }

  zoomAt(stage, x, y, zoom) {
    this.zoomFrom({ stage, zoom: this.zoom, tx: this.tx, ty: this.ty, mx: x, my: y }, x, y, zoom);
  }

  /** Zoom by `factor` about the middle of the first stage (keyboard). */
  zoomBy(factor) {
    const { stage } = this.panes[0];
    const r = stage.getBoundingClientRect();
    this.zoomAt(stage, r.left + r.width / 2, r.top + r.height / 2, this.zoom * factor);
  }

  reset() { this.set(1, 0, 0); }

  // Pan limits: a drawing larger than its pane covers the pane, a smaller one stays inside it.
  set(zoom, tx, ty) {
    const { surface, stage } = this.panes[0];
    const limit = (t, offset, size, room) => {
      const a = -offset, b = room - offset - zoom * size;
      return Math.min(Math.max(a, b), Math.max(Math.min(a, b), t));
    };
    this.zoom = zoom;
    this.tx = zoom === 1 ? 0 : limit(tx, stage.offsetLeft, stage.offsetWidth, surface.clientWidth);
    this.ty = zoom === 1 ? 0 : limit(ty, stage.offsetTop, stage.offsetHeight, surface.clientHeight);
    const transform = zoom === 1 ? '' : `translate(${this.tx}px, ${this.ty}px) scale(${zoom})`;
    for (const pane of this.panes) {
      pane.stage.style.transform = transform;
      pane.stage.style.setProperty('--zoom', String(zoom));
    }
    this.onChange(zoom);
  }

  /** After the stages were resized: keep the zoom, pull the pan back into range. */
  refit() { this.set(this.zoom, this.tx, this.ty); }
}

// The palette: the recent colors first (kept across reloads in localStorage), then the defaults.

const KEY = 'irodori.recent';
const SIZE = 12;
const DEFAULTS = ['#e8553f', '#f2b33d', '#ffe3c9', '#4bb07a', '#3f7fe0', '#8a5be0',
                  '#f28cb1', '#7a4a2e', '#2b2b33', '#9fd3f5', '#c9e36b', '#ffffff'];

export class Palette {
  /** `choose(hex)` runs when a swatch is clicked. */
  constructor(container, choose) {
    this.container = container;
    this.current = null;
    try {
      this.recent = JSON.parse(localStorage.getItem(KEY) || '[]').filter((c) => /^#[0-9a-f]{6}$/.test(c)).slice(0, SIZE);
    } catch {
      this.recent = [];  // storage off, or not a list
    }
    container.addEventListener('click', (e) => {
      const color = e.target.closest('button')?.dataset.color;
      if (color) choose(color);
    });
  }

  /** Put `colors` first among the recent ones, and keep them. */
  remember(...colors) {
    this.recent = [...colors, ...this.recent.filter((c) => !colors.includes(c))].slice(0, SIZE);
    try { localStorage.setItem(KEY, JSON.stringify(this.recent)); } catch { /* private mode */ }
    this.render(this.current);
  }

  render(current) {
    this.current = current;
    const colors = [...this.recent, ...DEFAULTS.filter((c) => !this.recent.includes(c))].slice(0, SIZE);
    this.container.replaceChildren(...colors.map((c) => {
      const b = document.createElement('button');
      const recent = this.recent.includes(c);
      b.type = 'button';
      b.dataset.color = c;
      b.classList.toggle('recent', recent);
      b.title = recent ? `${c} (recent)` : c;
      b.setAttribute('aria-label', `${recent ? 'Recent color' : 'Color'} ${c}`);
      b.setAttribute('aria-pressed', String(c === current));
      b.style.background = c;
      return b;
    }));
  }
}

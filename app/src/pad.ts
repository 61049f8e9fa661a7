// The drawing pad: an 8×8 grid of intensities 0–16, the scale of the scikit-learn digits the
// agents were trained on. Pointer strokes paint; the keyboard moves a cursor and paints too; an
// image can be loaded onto it instead.

/** Grid side (8×8 = the 64 features the digit agents read). */
export const SIDE = 8;
/** Largest intensity of a cell. */
export const MAX = 16;

/** A drawing pad bound to a canvas. */
export class DigitPad {
  readonly cells = new Float32Array(SIDE * SIDE);
  private cursor = { x: 3, y: 3 };
  private focused = false;

  constructor(readonly canvas: HTMLCanvasElement, private readonly onChange: () => void) {
    canvas.width = SIDE * 28;
    canvas.height = SIDE * 28;
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.paintAt(e);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (e.buttons & 1) this.paintAt(e);
    });
    canvas.addEventListener('focus', () => { this.focused = true; this.draw(); });
    canvas.addEventListener('blur', () => { this.focused = false; this.draw(); });
    canvas.addEventListener('keydown', (e) => this.key(e));
    this.draw();
  }

  /** Whether anything is drawn. */
  isEmpty(): boolean {
    return this.cells.every((v) => v === 0);
  }

  /** Clears the pad. */
  clear(): void {
    this.cells.fill(0);
    this.changed();
  }

  /** Replaces the drawing with `image`, scaled to fit the pad and centred: each cell is the mean
   * ink of its part of the image, stretched to 0–16. Ink is whatever differs from the background
   * (dark on light, or light on dark, decided by the image's border; transparency counts as a
   * white background). Throws when the image is empty or of one colour. */
  loadImage(image: CanvasImageSource & { width: number; height: number }): void {
    if (!image.width || !image.height) throw new Error('the image has no pixels');
    // Draw onto a fine grid first (8 samples a cell each way), then average per cell.
    const fine = SIDE * 8;
    const work = document.createElement('canvas');
    work.width = fine;
    work.height = fine;
    const ctx = work.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('this browser cannot draw on a canvas');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, fine, fine);
    const scale = Math.min(fine / image.width, fine / image.height);
    const w = image.width * scale;
    const h = image.height * scale;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(image, (fine - w) / 2, (fine - h) / 2, w, h);
    const rgba = ctx.getImageData(0, 0, fine, fine).data;
    const lum = new Float32Array(fine * fine);
    for (let i = 0; i < lum.length; i++) lum[i] = 0.299 * (rgba[4 * i] ?? 0) + 0.587 * (rgba[4 * i + 1] ?? 0) + 0.114 * (rgba[4 * i + 2] ?? 0);
    // The border's mean brightness tells the background.
    let border = 0;
    let n = 0;
    for (let i = 0; i < fine; i++) {
      for (const j of [i, (fine - 1) * fine + i, i * fine, i * fine + fine - 1]) { border += lum[j] ?? 0; n++; }
    }
    const darkInk = border / n >= 128;
    const cells = new Float32Array(SIDE * SIDE);
    for (let y = 0; y < fine; y++) {
      for (let x = 0; x < fine; x++) {
        const v = lum[y * fine + x] ?? 0;
        const k = Math.floor(y / 8) * SIDE + Math.floor(x / 8);
        cells[k] = (cells[k] ?? 0) + (darkInk ? 255 - v : v) / 64;
      }
    }
    const lo = Math.min(...cells);
    const hi = Math.max(...cells);
    if (hi - lo < 8) throw new Error('the image is of one colour: no digit to read');
    for (let i = 0; i < cells.length; i++) this.cells[i] = Math.round((((cells[i] ?? 0) - lo) / (hi - lo)) * MAX);
    this.changed();
  }

  /** The pad as the 64 feature values, row by row. */
  values(): number[] {
    return Array.from(this.cells, (v) => Math.round(v));
  }

  private paintAt(e: PointerEvent): void {
    const rect = this.canvas.getBoundingClientRect();
    const fx = ((e.clientX - rect.left) / rect.width) * SIDE;
    const fy = ((e.clientY - rect.top) / rect.height) * SIDE;
    if (fx < 0 || fy < 0 || fx >= SIDE || fy >= SIDE) return;
    this.cursor = { x: Math.floor(fx), y: Math.floor(fy) };
    this.brush(fx, fy);
  }

  /** Adds ink around (fx, fy), in cells: full at the centre, fading over about one cell. */
  private brush(fx: number, fy: number): void {
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const d = Math.hypot(x + 0.5 - fx, y + 0.5 - fy);
        const ink = d < 0.6 ? MAX : d < 1.2 ? MAX * (1.2 - d) : 0;
        const i = y * SIDE + x;
        this.cells[i] = Math.min(MAX, Math.max(this.cells[i] ?? 0, ink));
      }
    }
    this.changed();
  }

  private key(e: KeyboardEvent): void {
    const moves: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const move = moves[e.key];
    if (move) {
      this.cursor = { x: Math.min(SIDE - 1, Math.max(0, this.cursor.x + move[0])), y: Math.min(SIDE - 1, Math.max(0, this.cursor.y + move[1])) };
      if (e.shiftKey) this.brush(this.cursor.x + 0.5, this.cursor.y + 0.5);
      else this.draw();
    } else if (e.key === ' ' || e.key === 'Enter') {
      this.brush(this.cursor.x + 0.5, this.cursor.y + 0.5);
    } else if (e.key === 'Delete' || e.key === 'Backspace') {
      this.cells[this.cursor.y * SIDE + this.cursor.x] = 0;
      this.changed();
    } else {
      return;
    }
    e.preventDefault();
  }

  private changed(): void {
    this.draw();
    this.onChange();
  }

  private draw(): void {
    drawCells(this.canvas, this.cells);
    if (this.focused) {
      const ctx = this.canvas.getContext('2d');
      const size = this.canvas.width / SIDE;
      if (ctx) {
        ctx.strokeStyle = '#4493f8';
        ctx.lineWidth = 3;
        ctx.strokeRect(this.cursor.x * size + 1.5, this.cursor.y * size + 1.5, size - 3, size - 3);
      }
    }
  }
}

/** Paints `cells` (0–16) onto `canvas` as grey squares. */
export function drawCells(canvas: HTMLCanvasElement, cells: ArrayLike<number>): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const size = canvas.width / SIDE;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const shade = Math.round(((cells[y * SIDE + x] ?? 0) / MAX) * 255);
      ctx.fillStyle = `rgb(${shade},${shade},${shade})`;
      ctx.fillRect(x * size, y * size, size, size);
    }
  }
}

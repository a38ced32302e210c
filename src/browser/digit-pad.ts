// The drawing surface and the 28x28 pictures of the demo page: a canvas a person draws a digit on
// (mouse, pen or touch, through pointer events), read back as an MNIST-style input.
import { inkFromRgba, MNIST_SIDE, toMnistInput } from "./mnist-input.js";

export class DigitPad {
  private readonly ctx: CanvasRenderingContext2D;
  private drawing = false;
  private inked = false;
  private last: { x: number; y: number } | null = null;

  /** `onStroke` runs after every finished stroke (pointer up) with the drawing as a 784-value input. */
  constructor(private readonly canvas: HTMLCanvasElement, private readonly onStroke: (input: Float32Array) => void) {
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    if (!ctx) throw new Error("DigitPad: this browser gives no 2D canvas context");
    this.ctx = ctx;
    this.clear();
    canvas.addEventListener("pointerdown", (e) => this.start(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", () => this.end());
    canvas.addEventListener("pointercancel", () => this.end());
    canvas.addEventListener("pointerleave", () => this.end());
  }

  get hasInk(): boolean {
    return this.inked;
  }

  clear(): void {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.inked = false;
  }

  /** The drawing as the model's input (all zeros when nothing is drawn). */
  read(): Float32Array {
    const { width, height } = this.canvas;
    return toMnistInput(inkFromRgba(this.ctx.getImageData(0, 0, width, height).data, width, height), width, height);
  }

  private point(e: PointerEvent): { x: number; y: number } {
    const box = this.canvas.getBoundingClientRect();
    return { x: ((e.clientX - box.left) / box.width) * this.canvas.width, y: ((e.clientY - box.top) / box.height) * this.canvas.height };
  }

  private start(e: PointerEvent): void {
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.drawing = true;
    this.last = this.point(e);
    this.line(this.last, this.last);
  }

  private move(e: PointerEvent): void {
    if (!this.drawing || !this.last) return;
    const p = this.point(e);
    this.line(this.last, p);
    this.last = p;
  }

  private end(): void {
    if (!this.drawing) return;
    this.drawing = false;
    this.last = null;
    this.onStroke(this.read());
  }

  private line(a: { x: number; y: number }, b: { x: number; y: number }): void {
    const ctx = this.ctx;
    // Stroke width relative to the canvas: about 2.3 MNIST pixels once the digit is scaled into its 20x20 box.
    ctx.lineWidth = this.canvas.width * 0.075;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#fff";
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
    this.inked = true;
  }
}

/** Paints a 28x28 input (values in [0, 1], 1 = ink) into a canvas of that size: white ink on black. */
export function paintDigit(canvas: HTMLCanvasElement, input: ArrayLike<number>): void {
  canvas.width = MNIST_SIDE;
  canvas.height = MNIST_SIDE;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const image = ctx.createImageData(MNIST_SIDE, MNIST_SIDE);
  for (let i = 0; i < MNIST_SIDE * MNIST_SIDE; i++) {
    const v = Math.round(Math.min(1, Math.max(0, input[i])) * 255);
    image.data[4 * i] = v;
    image.data[4 * i + 1] = v;
    image.data[4 * i + 2] = v;
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

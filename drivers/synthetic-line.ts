// The synthetic line: a machined bracket on a moving conveyor, with seeded defects and exact ground-truth masks.
// Pure TypeScript on Buffers: sprites and textures are built once, a frame is a few memcpy and blend passes.
import type { DefectKind } from './config.ts';

export interface SyntheticLineOptions {
  width: number;
  height: number;
  defectRate: number;
  kinds: readonly DefectKind[];
  seed: number;
}

export interface SyntheticFrame {
  /** Packed RGB24, width*height*3. */
  rgb: Buffer;
  /** 0/255 ground truth, width*height; all zero for a good part. */
  mask: Buffer;
  defect: boolean;
  kind?: DefectKind;
}

/** Small, fast, seedable PRNG (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mix(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

const clamp8 = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v | 0);

interface Feature {
  kind: 'hole' | 'bore' | 'slot';
  cx: number;
  cy: number;
  rx: number; // half extents in sprite pixels
  ry: number;
}

interface Sprite {
  rgb: Buffer; // pw*ph*3
  alpha: Uint8Array; // pw*ph, 0 outside the part and inside through-holes
}

export class SyntheticLine {
  readonly width: number;
  readonly height: number;
  private readonly opts: SyntheticLineOptions;
  private readonly pw: number;
  private readonly ph: number;
  private readonly features: Feature[];
  private readonly sprites = new Map<number, Sprite>(); // key -1: complete part; i: feature i missing
  private readonly plain: Uint8Array; // sprite pixels where a surface defect may sit
  private readonly belt: Buffer; // (width + period) * height * 3, scrolled per frame
  private readonly beltPeriod: number;
  private readonly noise: Int8Array; // sensor noise, sampled at a random offset per frame

  constructor(opts: SyntheticLineOptions) {
    if (opts.kinds.length === 0) throw new Error('synthetic line: kinds is empty; list at least one defect kind');
    this.opts = opts;
    this.width = opts.width;
    this.height = opts.height;
    this.pw = Math.round(Math.min(opts.width * 0.6, opts.height * 0.8 / 0.72));
    this.ph = Math.round(this.pw * 0.72);
    const { pw, ph } = this;
    const hr = ph * 0.07;
    this.features = [
      { kind: 'hole', cx: pw * 0.1, cy: ph * 0.16, rx: hr, ry: hr },
      { kind: 'hole', cx: pw * 0.9, cy: ph * 0.16, rx: hr, ry: hr },
      { kind: 'hole', cx: pw * 0.1, cy: ph * 0.84, rx: hr, ry: hr },
      { kind: 'hole', cx: pw * 0.9, cy: ph * 0.84, rx: hr, ry: hr },
      { kind: 'bore', cx: pw * 0.5, cy: ph * 0.5, rx: ph * 0.09, ry: ph * 0.09 },
      { kind: 'slot', cx: pw * 0.25, cy: ph * 0.5, rx: pw * 0.07, ry: ph * 0.045 },
      { kind: 'slot', cx: pw * 0.75, cy: ph * 0.5, rx: pw * 0.07, ry: ph * 0.045 },
    ];
    this.plain = this.buildPlainMap();
    this.beltPeriod = Math.max(16, Math.round(opts.height / 8));
    this.belt = this.buildBelt();
    const rng = mulberry32(mix(opts.seed, 0x5eed));
    this.noise = new Int8Array(opts.width * opts.height * 3 + 4096);
    for (let i = 0; i < this.noise.length; i++) this.noise[i] = Math.round((rng() + rng() + rng() - 1.5) * 4);
  }

  /** Renders part number `index` (0-based); the same seed and index give the same bytes. */
  render(index: number): SyntheticFrame {
    const { width: W, height: H, pw, ph } = this;
    const rng = mulberry32(mix(this.opts.seed, index));
    const defect = rng() < this.opts.defectRate;
    const kind = defect ? this.opts.kinds[Math.floor(rng() * this.opts.kinds.length)] : undefined;
    const missing = kind === 'missing_feature' ? Math.floor(rng() * this.features.length) : -1;

    const rgb = Buffer.allocUnsafe(W * H * 3);
    const mask = Buffer.alloc(W * H);
    // Conveyor: rows copied from the wider belt texture at the scroll offset of this moment.
    const scroll = Math.floor(rng() * this.beltPeriod);
    const beltStride = (W + this.beltPeriod) * 3;
    for (let y = 0; y < H; y++) this.belt.copy(rgb, y * W * 3, y * beltStride + scroll * 3, y * beltStride + (scroll + W) * 3);

    // Part placement with a little jitter, as the trigger fires a few ms early or late.
    const ox = Math.round((W - pw) / 2 + (rng() - 0.5) * W * 0.05);
    const oy = Math.round((H - ph) / 2 + (rng() - 0.5) * H * 0.04);
    const sprite = this.sprite(missing);
    this.blit(rgb, sprite, ox, oy);

    if (kind === 'missing_feature') this.maskFeature(mask, this.features[missing]!, ox, oy);
    else if (kind === 'scratch') this.drawScratch(rgb, mask, sprite, ox, oy, rng);
    else if (kind === 'dent') this.drawDent(rgb, mask, sprite, ox, oy, rng);
    else if (kind === 'contamination') this.drawContamination(rgb, mask, sprite, ox, oy, rng);

    // Light jitter (gain) and sensor noise in one pass.
    const gain = 0.93 + rng() * 0.14;
    const lut = new Uint8Array(256);
    for (let v = 0; v < 256; v++) lut[v] = clamp8(v * gain);
    const noiseOffset = Math.floor(rng() * 4096);
    const noise = this.noise;
    for (let i = 0; i < rgb.length; i++) rgb[i] = clamp8(lut[rgb[i]!]! + noise[i + noiseOffset]!);

    const frame: SyntheticFrame = { rgb, mask, defect: kind !== undefined };
    if (kind) frame.kind = kind;
    return frame;
  }

  private blit(rgb: Buffer, sprite: Sprite, ox: number, oy: number): void {
    const { width: W, height: H, pw, ph } = this;
    const sx = Math.max(2, Math.round(pw * 0.015));
    const sy = Math.max(3, Math.round(ph * 0.03));
    // Soft drop shadow first, then the part over it.
    for (let y = 0; y < ph; y++) {
      const fy = oy + y + sy;
      if (fy < 0 || fy >= H) continue;
      for (let x = 0; x < pw; x++) {
        const a = sprite.alpha[y * pw + x]!;
        const fx = ox + x + sx;
        if (a === 0 || fx < 0 || fx >= W) continue;
        const o = (fy * W + fx) * 3;
        const k = 1 - (a / 255) * 0.55;
        rgb[o] = rgb[o]! * k;
        rgb[o + 1] = rgb[o + 1]! * k;
        rgb[o + 2] = rgb[o + 2]! * k;
      }
    }
    for (let y = 0; y < ph; y++) {
      const fy = oy + y;
      if (fy < 0 || fy >= H) continue;
      for (let x = 0; x < pw; x++) {
        const a = sprite.alpha[y * pw + x]!;
        const fx = ox + x;
        if (a === 0 || fx < 0 || fx >= W) continue;
        const o = (fy * W + fx) * 3;
        const s = (y * pw + x) * 3;
        if (a === 255) {
          rgb[o] = sprite.rgb[s]!;
          rgb[o + 1] = sprite.rgb[s + 1]!;
          rgb[o + 2] = sprite.rgb[s + 2]!;
        } else {
          const t = a / 255;
          rgb[o] = rgb[o]! + (sprite.rgb[s]! - rgb[o]!) * t;
          rgb[o + 1] = rgb[o + 1]! + (sprite.rgb[s + 1]! - rgb[o + 1]!) * t;
          rgb[o + 2] = rgb[o + 2]! + (sprite.rgb[s + 2]! - rgb[o + 2]!) * t;
        }
      }
    }
  }

  private sprite(missing: number): Sprite {
    let s = this.sprites.get(missing);
    if (!s) {
      s = this.buildSprite(missing);
      this.sprites.set(missing, s);
    }
    return s;
  }

  /** Signed distance-ish value: < 1 inside the feature's ellipse (slots are rounded rectangles). */
  private featureDistance(f: Feature, x: number, y: number): number {
    const dx = (x + 0.5 - f.cx) / f.rx;
    const dy = (y + 0.5 - f.cy) / f.ry;
    if (f.kind !== 'slot') return Math.sqrt(dx * dx + dy * dy);
    const capX = Math.max(0, Math.abs(x + 0.5 - f.cx) - (f.rx - f.ry)) / f.ry;
    return Math.sqrt(capX * capX + dy * dy);
  }

  private buildSprite(missing: number): Sprite {
    const { pw, ph } = this;
    const rng = mulberry32(mix(this.opts.seed, 0xb0d1));
    const rgb = Buffer.alloc(pw * ph * 3);
    const alpha = new Uint8Array(pw * ph);
    const rowStreak = new Float32Array(ph);
    for (let y = 0; y < ph; y++) rowStreak[y] = (rng() - 0.5) * 14;
    const grain = new Float32Array(pw * ph);
    for (let i = 0; i < grain.length; i++) grain[i] = (rng() - 0.5) * 8;
    const r = ph * 0.12;
    const bevel = Math.max(2, ph * 0.015);
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        // Rounded-rectangle outline with an anti-aliased edge.
        const qx = Math.max(0, Math.abs(x + 0.5 - pw / 2) - (pw / 2 - r));
        const qy = Math.max(0, Math.abs(y + 0.5 - ph / 2) - (ph / 2 - r));
        const outside = Math.sqrt(qx * qx + qy * qy) - r; // <0 inside
        if (outside > 0.5) continue;
        let a = outside < -0.5 ? 1 : 0.5 - outside;
        // Brushed aluminium, lit from the top left.
        let v = 150 + rowStreak[y]! + grain[y * pw + x]! + 22 * (1 - y / ph) + 8 * (1 - x / pw);
        let tint = [0, 3, 8];
        if (-outside < bevel) v += x + y < pw * 0.5 + ph * 0.5 ? 35 : -35;
        for (let i = 0; i < this.features.length; i++) {
          if (i === missing) continue;
          const f = this.features[i]!;
          const d = this.featureDistance(f, x, y);
          if (d < 1.25 && d >= 1) v += (y < f.cy ? -28 : 22) * (1.25 - d) * 4; // chamfer ring
          if (d < 1) {
            if (f.kind === 'hole') a = Math.min(a, Math.max(0, (d - 0.93) / 0.07)); // through-hole: belt shows
            else if (f.kind === 'bore') {
              v = 55 + 30 * Math.abs(Math.sin(d * 18)); // threaded bore
              tint = [0, 0, 0];
            } else {
              v = 40 + 20 * (y / ph);
              tint = [0, 0, 0];
            }
          }
        }
        const i = y * pw + x;
        alpha[i] = Math.round(a * 255);
        rgb[i * 3] = clamp8(v + tint[0]!);
        rgb[i * 3 + 1] = clamp8(v + tint[1]!);
        rgb[i * 3 + 2] = clamp8(v + tint[2]!);
      }
    }
    // Stamped marking: a dark rectangle with bars, like a printed part label.
    const lx0 = Math.round(pw * 0.42), lx1 = Math.round(pw * 0.58), ly0 = Math.round(ph * 0.76), ly1 = Math.round(ph * 0.86);
    for (let y = ly0; y < ly1; y++) {
      for (let x = lx0; x < lx1; x++) {
        const bar = ((x - lx0) >> 1) % 3 === 0 && y > ly0 + 1 && y < ly1 - 2;
        const i = (y * pw + x) * 3;
        const v = bar ? 210 : 60;
        rgb[i] = v;
        rgb[i + 1] = v;
        rgb[i + 2] = bar ? 215 : 70;
      }
    }
    return { rgb, alpha };
  }

  private buildPlainMap(): Uint8Array {
    const { pw, ph } = this;
    const plain = new Uint8Array(pw * ph);
    const margin = ph * 0.1;
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        if (x < margin || y < margin || x >= pw - margin || y >= ph - margin) continue;
        if (this.features.some((f) => this.featureDistance(f, x, y) < 1.6)) continue;
        if (x > pw * 0.4 && x < pw * 0.6 && y > ph * 0.74 && y < ph * 0.88) continue;
        plain[y * pw + x] = 1;
      }
    }
    return plain;
  }

  private buildBelt(): Buffer {
    const W = this.width + this.beltPeriod;
    const H = this.height;
    const rng = mulberry32(mix(this.opts.seed, 0xbe17));
    const belt = Buffer.alloc(W * H * 3);
    const rail = Math.round(H * 0.07);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let v: number;
        let tint = [0, 0, 0];
        if (y < rail || y >= H - rail) {
          // Steel side rails with a rolled highlight.
          const t = y < rail ? y / rail : (H - 1 - y) / rail;
          v = 120 + 70 * Math.sin(t * Math.PI) + (rng() - 0.5) * 6;
          tint = [4, 4, 6];
        } else {
          // Rubber belt with transverse cleats every period pixels.
          const phase = x % this.beltPeriod;
          v = 52 + (rng() - 0.5) * 10;
          if (phase < 2) v -= 20;
          else if (phase < 4) v += 12;
          tint = [0, 3, 1];
        }
        const o = (y * W + x) * 3;
        belt[o] = clamp8(v + tint[0]!);
        belt[o + 1] = clamp8(v + tint[1]!);
        belt[o + 2] = clamp8(v + tint[2]!);
      }
    }
    return belt;
  }

  /** A random point on plain part surface, in frame coordinates. */
  private surfacePoint(ox: number, oy: number, rng: () => number): [number, number] {
    for (let tries = 0; tries < 200; tries++) {
      const x = Math.floor(rng() * this.pw);
      const y = Math.floor(rng() * this.ph);
      if (this.plain[y * this.pw + x]) return [ox + x, oy + y];
    }
    return [ox + Math.round(this.pw * 0.35), oy + Math.round(this.ph * 0.3)];
  }

  private onPart(sprite: Sprite, ox: number, oy: number, fx: number, fy: number): boolean {
    const x = fx - ox;
    const y = fy - oy;
    return x >= 0 && y >= 0 && x < this.pw && y < this.ph && sprite.alpha[y * this.pw + x] === 255;
  }

  private maskFeature(mask: Buffer, f: Feature, ox: number, oy: number): void {
    const { width: W, height: H } = this;
    const x0 = Math.floor(f.cx - f.rx - 1), x1 = Math.ceil(f.cx + f.rx + 1);
    const y0 = Math.floor(f.cy - f.ry - 1), y1 = Math.ceil(f.cy + f.ry + 1);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const fx = ox + x, fy = oy + y;
        if (fx < 0 || fy < 0 || fx >= W || fy >= H) continue;
        if (this.featureDistance(f, x, y) < 1) mask[fy * W + fx] = 255;
      }
    }
  }

  private drawScratch(rgb: Buffer, mask: Buffer, sprite: Sprite, ox: number, oy: number, rng: () => number): void {
    const W = this.width;
    const [cx, cy] = this.surfacePoint(ox, oy, rng);
    const len = this.pw * (0.12 + rng() * 0.18);
    const ang = rng() * Math.PI;
    const hw = 0.8 + rng() * 1.0;
    const bright = rng() < 0.5;
    const ax = cx - (Math.cos(ang) * len) / 2, ay = cy - (Math.sin(ang) * len) / 2;
    const bx = cx + (Math.cos(ang) * len) / 2, by = cy + (Math.sin(ang) * len) / 2;
    const dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    for (let y = Math.floor(Math.min(ay, by) - 3); y <= Math.ceil(Math.max(ay, by) + 3); y++) {
      for (let x = Math.floor(Math.min(ax, bx) - 3); x <= Math.ceil(Math.max(ax, bx) + 3); x++) {
        if (!this.onPart(sprite, ox, oy, x, y)) continue;
        const t = Math.max(0, Math.min(1, ((x + 0.5 - ax) * dx + (y + 0.5 - ay) * dy) / l2));
        const ex = ax + t * dx - (x + 0.5), ey = ay + t * dy - (y + 0.5);
        const d = Math.sqrt(ex * ex + ey * ey);
        if (d > hw + 1) continue;
        const k = Math.min(1, hw + 1 - d);
        const o = (y * W + x) * 3;
        const target = bright ? 235 : 45;
        for (let c = 0; c < 3; c++) rgb[o + c] = rgb[o + c]! + (target - rgb[o + c]!) * k * 0.85;
        mask[y * W + x] = 255;
      }
    }
  }

  private drawDent(rgb: Buffer, mask: Buffer, sprite: Sprite, ox: number, oy: number, rng: () => number): void {
    const W = this.width;
    const [cx, cy] = this.surfacePoint(ox, oy, rng);
    const rx = this.pw * (0.02 + rng() * 0.025);
    const ry = rx * (0.7 + rng() * 0.6);
    for (let y = Math.floor(cy - ry - 1); y <= Math.ceil(cy + ry + 1); y++) {
      for (let x = Math.floor(cx - rx - 1); x <= Math.ceil(cx + rx + 1); x++) {
        if (!this.onPart(sprite, ox, oy, x, y)) continue;
        const ux = (x + 0.5 - cx) / rx, uy = (y + 0.5 - cy) / ry;
        const d = Math.sqrt(ux * ux + uy * uy);
        if (d >= 1) continue;
        // A crater lit from the top left: dark upper-left wall, bright lower-right rim.
        const shade = -70 * (1 - d) + (ux + uy > 0 ? 45 : -25) * d;
        const o = (y * W + x) * 3;
        for (let c = 0; c < 3; c++) rgb[o + c] = clamp8(rgb[o + c]! + shade);
        mask[y * W + x] = 255;
      }
    }
  }

  private drawContamination(rgb: Buffer, mask: Buffer, sprite: Sprite, ox: number, oy: number, rng: () => number): void {
    const W = this.width;
    const [cx, cy] = this.surfacePoint(ox, oy, rng);
    const blobs = 4 + Math.floor(rng() * 5);
    const spread = this.pw * 0.035;
    const circles: [number, number, number][] = [];
    for (let i = 0; i < blobs; i++) circles.push([cx + (rng() - 0.5) * 2 * spread, cy + (rng() - 0.5) * 2 * spread, spread * (0.35 + rng() * 0.5)]);
    const color = rng() < 0.5 ? [92, 64, 30] : [40, 48, 30]; // rust/oil or grease
    const reach = spread * 2;
    for (let y = Math.floor(cy - reach); y <= Math.ceil(cy + reach); y++) {
      for (let x = Math.floor(cx - reach); x <= Math.ceil(cx + reach); x++) {
        if (!this.onPart(sprite, ox, oy, x, y)) continue;
        if (!circles.some(([bx, by, br]) => (x + 0.5 - bx) ** 2 + (y + 0.5 - by) ** 2 < br * br)) continue;
        const o = (y * W + x) * 3;
        for (let c = 0; c < 3; c++) rgb[o + c] = rgb[o + c]! + (color[c]! - rgb[o + c]!) * 0.8;
        mask[y * W + x] = 255;
      }
    }
  }
}

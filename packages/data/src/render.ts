/**
 * Procedural clips for the synthetic temporal-order benchmark. Each class changes one property of a
 * main object steadily in one direction; its partner class is the time reverse. The changing
 * property is a cyclic phase p(t) = frac(u + dir * k * t) with u uniform, so at every frame t the
 * phase is uniform whichever the direction: no single frame tells a class from its reverse, and
 * the unordered set of frames does not either (an order-blind model sits at chance within a pair).
 *   x, y   -> position on a torus (the object wraps around the edges)
 *   scale  -> log radius in [rMin, rMax] (sawtooth: grows, snaps back to small, grows again)
 *   alpha  -> opacity in [0, 1) (sawtooth)
 *   angle  -> rotation (a marker and striped fill make every shape's orientation visible)
 * Nuisances: textured backgrounds, random shapes and colours, small distractors on a random walk
 * (time-reversible), brightness flicker and pixel noise.
 *
 * Difficulty levels (SYNTH_LEVELS): each adds one nuisance to the level below. The main object (shape,
 * size, start pose, speed, colour draws) comes from the same random numbers at every level for the
 * same clip seed, so levels differ only in what is added; every nuisance is time-reversible (static
 * background, random walks, i.i.d. per-frame noise), so every level keeps the twin property.
 *   0 clean       a light object (striped fill in two random light colours, dark orientation marker)
 *                 on a plain dark background (one random dark colour): contrast polarity is fixed
 *   1 texture     + textured dark background (stripes, checkers or smooth blobs in two dark colours)
 *   2 distractors + 1-3 small light shapes on a random walk (position and angle)
 *   3 noise       + brightness flicker per frame (normal, std 3 grey levels) and uniform pixel noise
 *                 (+-3..10 grey levels)
 *   4 colours     colours drawn freely, so object and background have any contrast polarity: the
 *                 original set, byte for byte
 * Level 4 is much harder to learn from scratch than 3: with a random contrast polarity per clip a small
 * ResNet stays on the chance plateau for >1000 SGD steps where a fixed polarity takes ~100.
 */
import type { Rng } from "@blvnet/core";

export const SYNTH_CLASSES = [
  "move-left",
  "move-right",
  "move-up",
  "move-down",
  "grow",
  "shrink",
  "appear",
  "disappear",
  "rotate-cw",
  "rotate-ccw",
] as const;
export type SynthClass = (typeof SYNTH_CLASSES)[number];

export const SYNTH_LEVELS = ["clean", "texture", "distractors", "noise", "colours"] as const;
/** The hardest level (every nuisance; the set as it was before levels existed). */
export const SYNTH_MAX_LEVEL = SYNTH_LEVELS.length - 1;

type Property = "x" | "y" | "scale" | "alpha" | "angle";
const CLASS_MOTION: Record<SynthClass, [Property, 1 | -1]> = {
  "move-left": ["x", -1],
  "move-right": ["x", 1],
  "move-up": ["y", -1],
  "move-down": ["y", 1],
  grow: ["scale", 1],
  shrink: ["scale", -1],
  appear: ["alpha", 1],
  disappear: ["alpha", -1],
  // Image y points down, so a growing angle turns clockwise on screen.
  "rotate-cw": ["angle", 1],
  "rotate-ccw": ["angle", -1],
};

type Shape = "circle" | "square" | "triangle" | "diamond" | "cross" | "ring";
const SHAPES: Shape[] = ["circle", "square", "triangle", "diamond", "cross", "ring"];
const SQRT3_2 = Math.sqrt(3) / 2;

/** Point-in-shape test in the shape's unit frame (extent <= 1.15). */
function inside(shape: Shape, u: number, v: number): boolean {
  switch (shape) {
    case "circle":
      return u * u + v * v <= 1;
    case "square":
      return Math.abs(u) <= 0.8 && Math.abs(v) <= 0.8;
    case "diamond":
      return Math.abs(u) + Math.abs(v) <= 1.05;
    case "cross":
      return (Math.abs(u) <= 0.35 && Math.abs(v) <= 1) || (Math.abs(v) <= 0.35 && Math.abs(u) <= 1);
    case "ring": {
      const r2 = u * u + v * v;
      return r2 <= 1 && r2 >= 0.3;
    }
    case "triangle":
      // Vertices at angles 0, 120, 240 degrees on the unit circle: three half-planes.
      return u >= -0.5 && 0.5 * u + SQRT3_2 * v <= 0.5 && 0.5 * u - SQRT3_2 * v <= 0.5;
  }
}

type RGB = [number, number, number];

interface ObjectStyle {
  shape: Shape;
  colors: [RGB, RGB];
  marker: RGB;
  stripeCos: number;
  stripeSin: number;
  stripePeriod: number;
}

interface Pose {
  x: number;
  y: number;
  r: number;
  angle: number;
  alpha: number;
}

function randomColor(rng: Rng): RGB {
  return [rng.int(256), rng.int(256), rng.int(256)];
}

function dist(a: RGB, b: RGB): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** A colour at least `min` away (RGB distance) from all of `avoid` (best of a few tries). */
function contrastingColor(rng: Rng, avoid: RGB[], min = 110): RGB {
  let best = randomColor(rng);
  for (let i = 0; i < 12 && Math.min(...avoid.map((a) => dist(a, best))) < min; i++) best = randomColor(rng);
  return best;
}

function randomStyle(rng: Rng, avoid: RGB[]): ObjectStyle {
  const a = contrastingColor(rng, avoid);
  const b = contrastingColor(rng, [...avoid, a], 60);
  const theta = rng.uniform(0, Math.PI);
  return {
    shape: rng.choice(SHAPES),
    colors: [a, b],
    marker: contrastingColor(rng, [a, b], 120),
    stripeCos: Math.cos(theta),
    stripeSin: Math.sin(theta),
    stripePeriod: rng.uniform(0.35, 0.7),
  };
}

/** Static background texture (RGB, size x size): stripes, checkers or smooth colour blobs. */
function background(rng: Rng, size: number): { pixels: Uint8ClampedArray; colors: RGB[] } {
  const c1 = randomColor(rng);
  const c2 = randomColor(rng);
  const out = new Uint8ClampedArray(size * size * 3);
  const kind = rng.int(3);
  if (kind === 2) {
    // Bilinear blend of a coarse grid of random colours.
    const g = 4;
    const grid = Array.from({ length: (g + 1) * (g + 1) }, () => (rng.bool() ? c1 : c2).map((v) => v + rng.uniform(-40, 40)));
    for (let y = 0; y < size; y++) {
      const gy = (y / size) * g;
      const y0 = Math.floor(gy);
      const fy = gy - y0;
      for (let x = 0; x < size; x++) {
        const gx = (x / size) * g;
        const x0 = Math.floor(gx);
        const fx = gx - x0;
        const p00 = grid[y0 * (g + 1) + x0]!;
        const p01 = grid[y0 * (g + 1) + x0 + 1]!;
        const p10 = grid[(y0 + 1) * (g + 1) + x0]!;
        const p11 = grid[(y0 + 1) * (g + 1) + x0 + 1]!;
        for (let c = 0; c < 3; c++) {
          out[(y * size + x) * 3 + c] = (p00[c]! * (1 - fx) + p01[c]! * fx) * (1 - fy) + (p10[c]! * (1 - fx) + p11[c]! * fx) * fy;
        }
      }
    }
  } else {
    const theta = rng.uniform(0, Math.PI);
    const [ct, st] = [Math.cos(theta), Math.sin(theta)];
    const period = rng.uniform(0.06, 0.2) * size;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let w: number;
        if (kind === 0) w = 0.5 + 0.5 * Math.sin(((x * ct + y * st) / period) * 2 * Math.PI);
        else w = (Math.floor(x / period) + Math.floor(y / period)) & 1;
        for (let c = 0; c < 3; c++) out[(y * size + x) * 3 + c] = c1[c]! * (1 - w) + c2[c]! * w;
      }
    }
  }
  return { pixels: out, colors: [c1, c2] };
}

const SUB = [0.25, 0.75];

/** Draw an object (anti-aliased by 2x2 supersampling), wrapping around the frame edges. */
function drawObject(frame: Uint8ClampedArray, size: number, style: ObjectStyle, pose: Pose): void {
  if (pose.alpha <= 0) return;
  const extent = 1.15 * pose.r;
  const ca = Math.cos(pose.angle);
  const sa = Math.sin(pose.angle);
  const inv = 1 / pose.r;
  const [A, B] = style.colors;
  const M = style.marker;
  for (const ox of [-size, 0, size]) {
    for (const oy of [-size, 0, size]) {
      const cx = pose.x + ox;
      const cy = pose.y + oy;
      const x0 = Math.max(0, Math.floor(cx - extent));
      const x1 = Math.min(size - 1, Math.ceil(cx + extent));
      const y0 = Math.max(0, Math.floor(cy - extent));
      const y1 = Math.min(size - 1, Math.ceil(cy + extent));
      for (let py = y0; py <= y1; py++) {
        for (let px = x0; px <= x1; px++) {
          let cov = 0;
          let r = 0;
          let g = 0;
          let b = 0;
          for (const sy of SUB) {
            for (const sx of SUB) {
              const dx = px + sx - cx;
              const dy = py + sy - cy;
              const u = (ca * dx + sa * dy) * inv;
              const v = (-sa * dx + ca * dy) * inv;
              if (!inside(style.shape, u, v)) continue;
              cov++;
              const mu = u - 0.5;
              let col: RGB;
              if (mu * mu + v * v < 0.04) col = M;
              else col = Math.floor((u * style.stripeCos + v * style.stripeSin) / style.stripePeriod) & 1 ? A : B;
              r += col[0];
              g += col[1];
              b += col[2];
            }
          }
          if (cov === 0) continue;
          const a = (pose.alpha * cov) / 4;
          const i = (py * size + px) * 3;
          frame[i] = frame[i]! * (1 - a) + (r / cov) * a;
          frame[i + 1] = frame[i + 1]! * (1 - a) + (g / cov) * a;
          frame[i + 2] = frame[i + 2]! * (1 - a) + (b / cov) * a;
        }
      }
    }
  }
}

/** frame += offset + u * scale per value, u a random byte (four bytes per 32-bit draw). */
function addNoise(frame: Uint8ClampedArray, rng: Rng, offset: number, scale: number): void {
  const n = frame.length;
  const whole = n - (n % 4);
  for (let i = 0; i < whole; i += 4) {
    const bits = rng.nextU32();
    frame[i] = frame[i]! + offset + (bits & 255) * scale;
    frame[i + 1] = frame[i + 1]! + offset + ((bits >>> 8) & 255) * scale;
    frame[i + 2] = frame[i + 2]! + offset + ((bits >>> 16) & 255) * scale;
    frame[i + 3] = frame[i + 3]! + offset + (bits >>> 24) * scale;
  }
  if (whole < n) {
    const bits = rng.nextU32();
    for (let i = whole; i < n; i++) frame[i] = frame[i]! + offset + ((bits >>> (8 * (i - whole))) & 255) * scale;
  }
}

/** Levels 0-3: a colour channel mapped into the dark range [0, 102] ... */
function dark(v: number): number {
  return 0.4 * v;
}

/** ... or the light range [153, 255], so the object is always lighter than the background. */
function lighten(style: ObjectStyle): ObjectStyle {
  const light = (c: RGB): RGB => [153 + 0.4 * c[0], 153 + 0.4 * c[1], 153 + 0.4 * c[2]];
  style.colors = [light(style.colors[0]), light(style.colors[1])];
  style.marker = [dark(style.marker[0]), dark(style.marker[1]), dark(style.marker[2])];
  return style;
}

function frac(x: number): number {
  return x - Math.floor(x);
}

/** Render one clip: `frames` RGB frames (HWC uint8) of a video of class `cls` at difficulty `level` (0..SYNTH_MAX_LEVEL). */
export function renderClip(cls: SynthClass, frames: number, size: number, rng: Rng, level: number = SYNTH_MAX_LEVEL): Uint8ClampedArray[] {
  if (!Number.isInteger(level) || level < 0 || level > SYNTH_MAX_LEVEL)
    throw new RangeError(`synthetic level must be an integer in 0..${SYNTH_MAX_LEVEL}, got ${level}`);
  const [property, dir] = CLASS_MOTION[cls];
  // Every level draws the same random numbers up to the frame loop, so the object is the same.
  const bg = background(rng, size);
  const style = randomStyle(rng, bg.colors);
  const polarity = level < 4;
  if (level < 1) for (let i = 0; i < bg.pixels.length; i += 3) bg.pixels.set(bg.colors[0], i);
  if (polarity) {
    for (let i = 0; i < bg.pixels.length; i++) bg.pixels[i] = dark(bg.pixels[i]!);
    lighten(style);
  }
  const rMin = 0.09 * size;
  const rMax = 0.26 * size;
  const phase = rng.next();
  // Fraction of a full cycle the property travels over the clip.
  const perFrame = rng.uniform(0.35, 0.65) / Math.max(1, frames - 1);
  const base: Pose = {
    x: rng.uniform(0, size),
    y: rng.uniform(0, size),
    r: rMin * (rMax / rMin) ** rng.next(),
    angle: rng.uniform(0, 2 * Math.PI),
    alpha: 1,
  };
  const distractors = Array.from({ length: 1 + rng.int(3) }, () => ({
    style: polarity ? lighten(randomStyle(rng, bg.colors)) : randomStyle(rng, bg.colors),
    pose: {
      x: rng.uniform(0, size),
      y: rng.uniform(0, size),
      r: rng.uniform(0.035, 0.07) * size,
      angle: rng.uniform(0, 2 * Math.PI),
      alpha: 1,
    },
    step: rng.uniform(0.005, 0.02) * size,
  }));
  const noise = rng.uniform(3, 10);
  const out: Uint8ClampedArray[] = [];
  for (let t = 0; t < frames; t++) {
    const p = frac(phase + dir * perFrame * t);
    const pose: Pose = { ...base };
    if (property === "x") pose.x = p * size;
    else if (property === "y") pose.y = p * size;
    else if (property === "scale") pose.r = rMin * (rMax / rMin) ** p;
    else if (property === "alpha") pose.alpha = p;
    else pose.angle = p * 2 * Math.PI;

    const frame = new Uint8ClampedArray(bg.pixels);
    if (level >= 2)
      for (const d of distractors) {
        if (t > 0) {
          d.pose.x = frac((d.pose.x + d.step * rng.normal()) / size) * size;
          d.pose.y = frac((d.pose.y + d.step * rng.normal()) / size) * size;
          d.pose.angle += 0.1 * rng.normal();
        }
        drawObject(frame, size, d.style, d.pose);
      }
    drawObject(frame, size, style, pose);
    if (level >= 3) addNoise(frame, rng, 3 * rng.normal() - noise, (2 * noise) / 255);
    out.push(frame);
  }
  return out;
}

// Euclidean projections onto the L1 and L2 balls {x : ‖x − center‖ <= radius}. `out` may alias `v`.
import { projectOntoSimplex } from "./simplex";

/** L1 ball (Duchi et al. 2008): project |v − c| onto the radius-simplex and restore the signs.
 * `scratch` holds 2K f64. */
export function projectOntoL1Ball(v: usize, center: usize, out: usize, K: i32, radius: f64, scratch: usize): void {
  const magnitude = scratch;
  const sorted = scratch + (<usize>K << 3);
  let norm = 0.0;
  for (let i = 0; i < K; i++) {
    const w = abs<f64>(load<f64>(v + (<usize>i << 3)) - load<f64>(center + (<usize>i << 3)));
    store<f64>(magnitude + (<usize>i << 3), w);
    norm += w;
  }
  if (norm <= radius) {
    if (out != v) memory.copy(out, v, <usize>K << 3);
    return;
  }
  projectOntoSimplex(magnitude, magnitude, K, radius, sorted);
  for (let i = 0; i < K; i++) {
    const c = load<f64>(center + (<usize>i << 3));
    const w = load<f64>(v + (<usize>i << 3)) - c;
    const m = load<f64>(magnitude + (<usize>i << 3));
    store<f64>(out + (<usize>i << 3), w < 0 ? c - m : c + m);
  }
}

/** L2 ball: radial shrink towards the centre. */
export function projectOntoL2Ball(v: usize, center: usize, out: usize, K: i32, radius: f64): void {
  let squared = 0.0;
  for (let i = 0; i < K; i++) {
    const w = load<f64>(v + (<usize>i << 3)) - load<f64>(center + (<usize>i << 3));
    squared += w * w;
  }
  const norm = Math.sqrt(squared);
  const scale = norm <= radius ? 1.0 : radius / norm;
  for (let i = 0; i < K; i++) {
    const c = load<f64>(center + (<usize>i << 3));
    store<f64>(out + (<usize>i << 3), c + scale * (load<f64>(v + (<usize>i << 3)) - c));
  }
}

// Euclidean projection onto the scaled simplex {x >= 0, Σx = radius} by sorting (Duchi et al. 2008).
// Works on raw f64 arrays in linear memory; `sorted` is K f64 of scratch. `out` may alias `v`.

/** Sorts K f64 at ptr in decreasing order (heapsort: no allocation, O(K log K) worst case). */
export function sortDescending(ptr: usize, K: i32): void {
  // A min-heap sorted by repeated extraction leaves the array in decreasing order.
  for (let start = (K >> 1) - 1; start >= 0; start--) siftDownMin(ptr, start, K);
  for (let end = K - 1; end > 0; end--) {
    const top = load<f64>(ptr);
    store<f64>(ptr, load<f64>(ptr + (<usize>end << 3)));
    store<f64>(ptr + (<usize>end << 3), top);
    siftDownMin(ptr, 0, end);
  }
}

function siftDownMin(ptr: usize, start: i32, size: i32): void {
  let root = start;
  const value = load<f64>(ptr + (<usize>root << 3));
  while (true) {
    let child = 2 * root + 1;
    if (child >= size) break;
    let childValue = load<f64>(ptr + (<usize>child << 3));
    if (child + 1 < size) {
      const right = load<f64>(ptr + (<usize>(child + 1) << 3));
      if (right < childValue) {
        child++;
        childValue = right;
      }
    }
    if (!(childValue < value)) break;
    store<f64>(ptr + (<usize>root << 3), childValue);
    root = child;
  }
  store<f64>(ptr + (<usize>root << 3), value);
}

/** The threshold θ with Σ max(v_i − θ, 0) = radius. */
export function simplexThreshold(v: usize, K: i32, radius: f64, sorted: usize): f64 {
  memory.copy(sorted, v, <usize>K << 3);
  sortDescending(sorted, K);
  // j = 0 always qualifies for radius > 0; for radius 0 it gives θ = max v (the answer is 0).
  let cumulative = load<f64>(sorted);
  let theta = cumulative - radius;
  for (let j = 1; j < K; j++) {
    const value = load<f64>(sorted + (<usize>j << 3));
    cumulative += value;
    const candidate = (cumulative - radius) / <f64>(j + 1);
    // Entries stay positive up to the last j where value exceeds its running threshold.
    if (value - candidate > 0) theta = candidate;
    else break;
  }
  return theta;
}

/** out = argmin_{x >= 0, Σx = radius} ‖x − v‖₂. */
export function projectOntoSimplex(v: usize, out: usize, K: i32, radius: f64, sorted: usize): void {
  const theta = simplexThreshold(v, K, radius, sorted);
  for (let i = 0; i < K; i++) {
    const x = load<f64>(v + (<usize>i << 3)) - theta;
    store<f64>(out + (<usize>i << 3), x > 0 ? x : 0.0);
  }
}

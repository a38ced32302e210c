// The top class of a probability (or logit) row: one implementation for every layer above.
// Ties go to the lowest index, as everywhere in the project.

/** Index of the first largest entry of row `row` of a row-major B x K array. */
export function rowArgmax(values: ArrayLike<number>, row: number, numClasses: number): number {
  const start = row * numClasses;
  let best = 0;
  let bestValue = values[start];
  for (let k = 1; k < numClasses; k++) {
    const value = values[start + k];
    if (value > bestValue) {
      bestValue = value;
      best = k;
    }
  }
  return best;
}

/** The top class of each of the `rows` rows. */
export function argmaxRows(values: ArrayLike<number>, rows: number, numClasses: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = rowArgmax(values, r, numClasses);
  return out;
}

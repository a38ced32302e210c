// Stable sort of 16-byte records (f64 key at +0, i32 class at +8) by key: the orders of MAD-argmax's
// sorted search (oracles.ts). Records start in class order, so equal keys stay in class order.

/** Records up to this long are insertion-sorted before merging. */
const RUN: i32 = 16;

@inline
function keyAt(records: usize, i: i32): f64 {
  return load<f64>(records + (<usize>i << 4));
}

@inline
function copyRecord(to: usize, k: i32, from: usize, i: i32): void {
  v128.store(to + (<usize>k << 4), v128.load(from + (<usize>i << 4)));
}

/** Sorts `count` records at `records` (`spare` holds as many); returns the buffer holding the result. */
export function sortRecords(records: usize, spare: usize, count: i32): usize {
  for (let start = 0; start < count; start += RUN) {
    const end = min<i32>(start + RUN, count);
    for (let i = start + 1; i < end; i++) {
      const record = v128.load(records + (<usize>i << 4));
      const key = f64x2.extract_lane(record, 0);
      let j = i;
      while (j > start && keyAt(records, j - 1) > key) {
        v128.store(records + (<usize>j << 4), v128.load(records + (<usize>(j - 1) << 4)));
        j--;
      }
      v128.store(records + (<usize>j << 4), record);
    }
  }
  let from = records;
  let to = spare;
  for (let width = RUN; width < count; width <<= 1) {
    for (let left = 0; left < count; left += width << 1) {
      const middle = min<i32>(left + width, count);
      const right = min<i32>(left + (width << 1), count);
      if (middle >= right || keyAt(from, middle - 1) <= keyAt(from, middle)) {
        memory.copy(to + (<usize>left << 4), from + (<usize>left << 4), <usize>(right - left) << 4); // already in order
        continue;
      }
      let i = left;
      let j = middle;
      let k = left;
      while (i < middle && j < right) {
        // <=: take the left run on ties, which keeps the sort stable
        if (keyAt(from, i) <= keyAt(from, j)) copyRecord(to, k, from, i++);
        else copyRecord(to, k, from, j++);
        k++;
      }
      while (i < middle) copyRecord(to, k++, from, i++);
      while (j < right) copyRecord(to, k++, from, j++);
    }
    const swap = from;
    from = to;
    to = swap;
  }
  return from;
}

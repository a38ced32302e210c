// The training kernels' hot loops, a WASM module of its own (build/kernels.wasm) that imports the
// tfjs WASM backend's memory, so it reads and writes tensors in place: no copies in or out.
// It must own no memory itself (no data segments, no allocation): that memory is tfjs's heap.
export { transposedPatches } from "./im2col";
export { accumulatePatches } from "./col2im";
export { maxPoolGrad } from "./max-pool-grad";
export { sumLeadingAxes } from "./sum-leading-axes";
export { packColumnStrips, gemm, gemmNarrow, gemmPlain } from "./gemm";
export { addRowBias } from "./add-row-bias";
export { countNonzero, transposeMatrix, sparseInputGradient } from "./sparse-input-gradient";
export { sparseFilterGradient } from "./sparse-filter-gradient";

// Side by side (MAD.md §4): the angular objective H reached by the paper's heuristic (`linesearch`:
// the oracle scores candidates at the vertex) and by the opt-in `reachable` step (scores them at the
// point the budget reaches), same rows, same epsilon. Not a bench suite (leading underscore):
//   node --import tsx bench/_core-reachable.ts
import { loadCore, type Distance, type Oracle } from "../src/core/index.js";
import { objectiveFor } from "../test/reference/mad.js";
import { createRng, randomSimplexPoint } from "../test/reference/random.js";

const K = 10;
const B = 2000;
const rng = createRng(12);
const probs = new Float64Array(B * K);
const proxy = new Float64Array(B * K);
for (let r = 0; r < B; r++) {
  probs.set(randomSimplexPoint(rng, K, 4), r * K); // a confident victim
  proxy.set(randomSimplexPoint(rng, K, 0.5), r * K); // a scratch proxy
}
const core = await loadCore();
console.log(`mean H over ${B} rows, K = ${K}, probs Jacobian (proxy softmax)`);
console.log("oracle   distance  epsilon   linesearch   reachable   rows improved");
for (const oracle of ["extreme", "argmax"] as Oracle[])
  for (const [distance, epsilons] of [["l1", [0.1, 0.5, 1]], ["l2", [0.1, 0.3, 0.6]], ["kl", [0.05, 0.2, 1]]] as [Distance, number[]][])
    for (const epsilon of epsilons) {
      const mean = (step: "linesearch" | "reachable") => {
        const out = core.createPerturber({ oracle, objective: "angular", distance, epsilon, step }).perturb(probs, K, { kind: "probs", proxyProbs: proxy });
        return Array.from({ length: B }, (_, r) => {
          const y = probs.subarray(r * K, (r + 1) * K);
          return objectiveFor("angular", y, { kind: "probs", proxyProbs: proxy.subarray(r * K, (r + 1) * K) })(out.subarray(r * K, (r + 1) * K));
        });
      };
      const heuristic = mean("linesearch");
      const reachable = mean("reachable");
      const avg = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
      const improved = reachable.filter((h, r) => h > heuristic[r] + 1e-9).length;
      console.log(`${oracle.padEnd(8)} ${distance.padEnd(9)} ${String(epsilon).padEnd(8)} ${avg(heuristic).toFixed(4).padStart(10)} ${avg(reachable).toFixed(4).padStart(11)} ${String(improved).padStart(15)}`);
    }

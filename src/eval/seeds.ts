// Every random role of an evaluation run gets its own seed, derived from the run seed and the role's
// name, so that no two roles share a stream for any run seed (a thief must never start from the
// victim's or the proxy's initial weights). Thieves split their seed further by role (src/thieves).
import { roleSeed } from "../models/random.js";

export interface RunSeeds {
  /** The dataset's train/test split. */
  readonly split: number;
  /** The victim's initialisation and training shuffles. */
  readonly victim: number;
  /** MAD's scratch proxy (a randomly initialised model of the victim's architecture). */
  readonly proxy: number;
  /** StealOptions.seed: the thief's query sample, initialisation, shuffles and JB seed set derive from it. */
  readonly thief: number;
  /** The evaluated deployment's secret key (keyed defenses), 32 bytes of hex; never in a report. */
  readonly defenseKey: string;
}

export function runSeeds(seed: number): RunSeeds {
  return {
    split: roleSeed(seed, "split"),
    victim: roleSeed(seed, "victim"),
    proxy: roleSeed(seed, "proxy"),
    thief: roleSeed(seed, "thief"),
    defenseKey: Array.from({ length: 8 }, (_, i) => roleSeed(seed, "defense-key", i).toString(16).padStart(8, "0")).join(""),
  };
}

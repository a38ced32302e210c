// `prediction-poisoning verify --watermark-log DIR --suspect <URL|model dir>`: DAWN ownership verification.
// Queries the suspect on the watermarked inputs the server logged (at most --max-queries, distinct, in log
// order) and runs a one-sided binomial test of its matches with the watermark labels against the null rate
// 1/(K − 1): the most often a model that never saw our answers can match a keyed uniform wrong label
// (src/node/watermark-verify.ts explains why that bound holds for any such model).
import { Command, InvalidArgumentError, Option } from "commander";
import { PredictionPoisoningError } from "../core/errors.js";
import { integerArg } from "./config.js";

function alphaArg(v: string): number {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError("must be in (0, 1), e.g. 1e-6");
  return n;
}

interface VerifyFlags {
  watermarkLog?: string;
  redis?: string;
  redisKey: string;
  suspect: string;
  maxQueries: number;
  alpha: number;
  json?: boolean;
  outputs: "logits" | "probabilities";
  header?: string[];
}

export const verifyCommand = new Command("verify")
  .description("test whether a suspect model was trained on watermarked answers (DAWN): matches on the logged watermark labels, binomial p-value")
  .option("--watermark-log <dir>", "the directory `serve --watermark-log` wrote")
  .option("--redis <url>", "read the watermark log from Redis instead (what `serve --watermark --redis` wrote)")
  .option("--redis-key <key>", "the Redis list holding the log", "pp:watermarks")
  .requiredOption("--suspect <url|dir>", "the suspect: an http(s) URL speaking /v1/predict, or a tfjs model directory")
  .option("--max-queries <n>", "query the suspect on at most this many logged inputs", integerArg(1, 10_000_000), 200)
  .option("--alpha <p>", 'verdict "stolen" when the p-value is at most this', alphaArg, 1e-6)
  .addOption(new Option("--outputs <kind>", "what a suspect model directory outputs").choices(["logits", "probabilities"]).default("logits"))
  .option("--header <name:value...>", "extra HTTP headers for a URL suspect (e.g. x-api-key:abc)")
  .option("--json", 'print one JSON object {"queries", "matches", "pValue", "verdict", ...}');

verifyCommand.action(async (flags: VerifyFlags, command: Command) => {
  if ((flags.watermarkLog === undefined) === (flags.redis === undefined)) {
    command.error("error: give the watermark log: --watermark-log <dir> or --redis <url> (one of them)", { exitCode: 2 });
  }
  const { readWatermarkDir, RedisWatermarkLog } = await import("../service/node/watermark-log.js");
  const { verifyWatermark, httpSuspect, modelDirSuspect, distinctEntries } = await import("../node/watermark-verify.js");
  let entries;
  let source: string;
  if (flags.watermarkLog !== undefined) {
    const read = readWatermarkDir(flags.watermarkLog);
    if (read.files === 0) throw new PredictionPoisoningError("not-found", `watermark log ${flags.watermarkLog}: no log files (wm-*.jsonl) in it: was serve started with --watermark and --watermark-log?`, { field: "--watermark-log" });
    if (read.entries.length === 0) throw new PredictionPoisoningError("data", `watermark log ${flags.watermarkLog}: ${read.files} files but no watermarked queries yet`, { field: "--watermark-log" });
    if (read.skipped && !flags.json) console.error(`note: skipped ${read.skipped} malformed lines`);
    entries = read.entries;
    source = flags.watermarkLog;
  } else {
    const { redactUrl } = await import("../service/node/redis-budgets.js");
    const log = await RedisWatermarkLog.connect(flags.redis!, flags.redisKey);
    try {
      entries = await log.readAll();
    } finally {
      await log.close();
    }
    source = `${redactUrl(flags.redis!)} list ${flags.redisKey}`;
    if (entries.length === 0) throw new PredictionPoisoningError("data", `watermark log ${source}: no watermarked queries in it`);
  }
  const { entries: distinct } = distinctEntries(entries);
  const { inputShape, numClasses } = distinct[0];
  let dispose: (() => void) | undefined;
  let suspect;
  if (/^https?:\/\//i.test(flags.suspect)) {
    const headers: Record<string, string> = {};
    for (const h of flags.header ?? []) {
      const at = h.indexOf(":");
      if (at < 1) command.error(`error: --header ${h}: expected name:value`, { exitCode: 2 });
      headers[h.slice(0, at).trim()] = h.slice(at + 1).trim();
    }
    suspect = httpSuspect(flags.suspect, numClasses, headers);
  } else {
    const loaded = await modelDirSuspect(flags.suspect, inputShape, numClasses, flags.outputs);
    suspect = loaded.suspect;
    dispose = loaded.dispose;
  }
  try {
    const r = await verifyWatermark(entries, suspect, { maxQueries: flags.maxQueries, alpha: flags.alpha });
    const part = (t: typeof r.label) => t && { queries: t.queries, matches: t.matches, informative: t.informative, pValue: t.pValue, log10PValue: t.log10PValue };
    if (flags.json) {
      console.log(JSON.stringify({
        queries: r.queries, matches: r.matches, pValue: r.pValue, verdict: r.verdict,
        log10PValue: r.log10PValue, nullRate: r.nullRate, informative: r.informative, alpha: r.alpha, logged: entries.length, duplicates: r.duplicates,
        label: part(r.label), softInput: part(r.softInput), softClass: part(r.softClass),
        ...(r.softSkipped ? { softSkipped: r.softSkipped } : {}),
        ...(r.victimAgreement !== undefined ? { victimAgreement: r.victimAgreement } : {}),
      }));
    } else {
      const share = (t: { matches: number; queries: number }) => `${t.matches} of ${t.queries} (${((100 * t.matches) / Math.max(1, t.queries)).toFixed(1)} %)`;
      console.log(`watermark log: ${source}: ${entries.length} entries (${r.duplicates} repeated inputs counted once), ${numClasses} classes`);
      console.log(`queries used: ${r.queries}`);
      console.log(`null rate: 1/(K − 1) = ${r.nullRate.toPrecision(4)} per query (the most a model that never saw the answers can match a keyed uniform class)`);
      if (r.label) {
        console.log(`label marks: the suspect's top-1 is the watermark label on ${share(r.label)}; ` +
          `p = P[Binomial(${r.label.informative}, ${r.nullRate.toPrecision(4)}) >= ${r.label.matches}] = ${r.label.pValue.toExponential(3)} ` +
          `(${r.label.informative} queries where the suspect did not answer the victim's label, the only ones that can match)`);
        if (r.victimAgreement !== undefined) console.log(`  suspect agreed with the victim's own label on ${(100 * r.victimAgreement).toFixed(1)} % (diagnostic only)`);
      }
      if (r.softInput) {
        console.log(`soft marks (keyed per input): the suspect's most likely class besides the kept top-1 is the watermark class on ${share(r.softInput)}; ` +
          `p = P[Binomial(${r.softInput.queries}, ${r.nullRate.toPrecision(4)}) >= ${r.softInput.matches}] = ${r.softInput.pValue.toExponential(3)}`);
      }
      if (r.softClass) {
        console.log(`soft marks (keyed per class): the suspect's most likely class besides the kept top-1 is the class's keyed one on ${share(r.softClass)}; ` +
          `p = ${r.softClass.pValue.toExponential(3)} (exact, over the key's choice of one class per top-1 class)`);
      }
      if (r.softSkipped) console.log(`soft marks not tested: ${r.softSkipped}`);
      console.log(`p-value: ${r.pValue.toExponential(3)} (log10 ${r.log10PValue.toFixed(2)}${[r.label, r.softInput, r.softClass].filter(Boolean).length > 1 ? "; Bonferroni over the tests: their number × the smallest" : ""})`);
      console.log(`verdict: ${r.verdict} (alpha ${r.alpha})`);
    }
  } finally {
    dispose?.();
  }
});

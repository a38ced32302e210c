// `prediction-poisoning serve`: the HTTP prediction API with a defense built in (src/service/).
// Every defense parameter is a flag (--epsilon, --oracle, --k, ...), generated from the defense registry;
// a flag that the chosen defense does not take is an error, not silently ignored. A secret key is never a
// flag (it would show in `ps`): a keyed defense reads it from --key-file, created on first start.
import { availableParallelism } from "node:os";
import { Command, InvalidArgumentError, Option } from "commander";
import { PredictionPoisoningError, isProblem } from "../core/errors.js";
import { listDefenses, parseParameterStrings, createDefense, describeDefense, DefenseConfigError, publicParameters } from "../defenses/index.js";
import { isKeyed } from "../defenses/keyed.js";
import type { Architecture } from "../models/zoo.js";
import { bytesArg, integerArg, rangeArg } from "./config.js";
import { paramArg } from "./perturb-defense.js";
import { checkUpstreamOptions, redactUpstreamUrl, upstreamModelName, upstreamVictim } from "../service/upstream.js";
import type { UpstreamOptions } from "../service/upstream.js";

/** PRADA's δ: alarm while W < δ, a number strictly between 0 and 1. */
function deltaArg(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !(n > 0 && n < 1)) throw new InvalidArgumentError("expected a number in (0, 1), e.g. 0.9");
  return n;
}

/** An input shape "H,W,C": three positive integers (the proxy models take images). */
function shapeArg(value: string): number[] {
  const dims = value.split(",").map((d) => Number(d.trim()));
  if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) throw new InvalidArgumentError(`expected H,W,C: three positive integers, e.g. 28,28,1; got "${value}".`);
  return dims;
}

/** A watermark rate: a number in [0, 0.5]. */
function rateArg(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 0.5) throw new InvalidArgumentError("expected a rate in [0, 0.5], e.g. 0.01");
  return n;
}

/** A soft-mark rate or mass: a number in [0, 1). */
function fractionArg(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n >= 1) throw new InvalidArgumentError("expected a number in [0, 1), e.g. 0.5");
  return n;
}

const camel = (s: string) => s.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export const serveCommand = new Command("serve")
  .description("serve POST /v1/predict with a defense built in (plus /v1/model, /healthz, /metrics)")
  .option("--model <dir|demo>", 'tfjs model directory (model.json + weights), or "demo": the MNIST LeNet, trained on first use and cached', "demo")
  .addOption(new Option("--outputs <kind>", "what the model (or the kserve-v2/tfserving upstream) outputs").choices(["logits", "probabilities"]).default("logits"))
  .option("--upstream <url>", "sidecar: defend the answers of this model server instead of a tfjs --model (kserve-v2, tfserving: its base URL; json: the endpoint); user:password@ in it is sent as Basic auth, never shown")
  .addOption(new Option("--upstream-protocol <protocol>", "how to ask the --upstream server").choices(["kserve-v2", "tfserving", "json"]))
  .option("--upstream-model <name>", "the model's name on the upstream server (kserve-v2: /v2/models/NAME/infer; tfserving: /v1/models/NAME:predict)")
  .option("--upstream-input <name>", 'kserve-v2: the name of the input tensor sent upstream (default "input")')
  .option("--upstream-output <name>", 'kserve-v2: the upstream output tensor to read (default: its first), also the name of the output --protocol kserve-v2 answers (default "probabilities")')
  .option("--upstream-timeout <ms>", "an upstream call not answered after this long fails with 504", integerArg(1, 600_000), 10_000)
  .option("--input-shape <H,W,C>", "with --upstream: the shape of one input the upstream takes (requests are validated against it; MAD's proxy runs on it)", shapeArg)
  .option("--num-classes <n>", "with --upstream: the number of classes the upstream answers", integerArg(2, 100_000))
  .addOption(new Option("--protocol <protocol>", "also answer in this protocol, besides /v1/predict: kserve-v2 (POST /v2/models/NAME/infer, /v2/health/ready, /v2/models/NAME)").choices(["kserve-v2"]))
  .option("--model-name <name>", "the model's name in the --protocol kserve-v2 routes (default: --upstream-model, else \"model\")")
  .option("--classes <names>", "comma-separated class names, in label order (default 0..K-1)")
  .option("--defense <name>", `defense applied to every answer (${listDefenses().map((d) => d.name).join(", ")}), or a chain such as "modelguard-s>mad-argmax"`, "mad-argmax")
  .option("--param <name=value>", 'a defense parameter by name, repeatable; for a chain\'s stage parameters that share a name, e.g. "grad2.epsilon=0.4"', paramArg)
  .option("--proxy-arch <arch>", "architecture of MAD's scratch proxy of the thief's model (lenet, mlp, vgg)", "lenet")
  .option("--proxy-seed <n>", "seed of the scratch proxy's initialisation", integerArg(0, 2 ** 32 - 1), 0)
  .option("--misinformation-model <dir>", "adaptive-misinformation: its misinformation model (train one with `train --kind misinformation`)")
  .option("--scorer-model <dir>", "adaptive-misinformation: its out-of-distribution scorer (`train --kind outlier-exposed`); without it, the victim's own top probability is the score")
  .option("--proxy-model <dir>", "a trained proxy model directory instead of the scratch proxy (MAD's view of the thief; for grad2: its surrogate, a model distilled from the victim's answers)")
  .option("--host <host>", "interface to listen on (0.0.0.0 for all)", "127.0.0.1")
  .option("--port <n>", "port (0: any free port)", integerArg(0, 65535), 8080)
  .option("--workers <n>", "worker threads, each with its own model copy (default: one per core)", integerArg(1, 256))
  .option("--max-batch <n>", "most inputs per request (413 above)", integerArg(1, 100_000), 256)
  .option("--max-body <size>", "largest request body, e.g. 8m or 65536 (413 above)", bytesArg(64), 8 * 1024 * 1024)
  .option("--input-range <min,max>", 'inclusive range of input values, or "none"', rangeArg, [0, 1] as [number, number] | null)
  .option("--max-queue <inputs>", "most inputs waiting per worker; a query that would go over gets 503 with Retry-After (a query always enters an empty queue); 0: admit a query only when a worker is free for it", integerArg(0, 1_000_000), 512)
  .option("--budget <inputs>", "query budget: inputs each API key may send (per window); needs --api-keys", integerArg(1))
  .option("--budget-window <seconds>", "reset budgets every this many seconds (default: never)", integerArg(1))
  .option("--api-key-header <name>", "header carrying the API key", "x-api-key")
  .option("--api-keys <file>", "accept only the keys listed in this file (one per line): any other request gets 401")
  .option("--redis <url>", "keep budgets (and --detect states) in Redis (redis://host:port), shared by every replica")
  .addOption(new Option("--detect <detector>", "per-API-key detection of model stealing (needs --api-keys): PRADA, Juuti et al. 2019").choices(["prada"]))
  .addOption(new Option("--on-detect <action>", "what a detection does: flag (metrics and access log) or block (403 for the key's later queries)").choices(["flag", "block"]).default("flag"))
  .option("--detect-delta <w>", "PRADA: flag a key while the Shapiro–Wilk W of its query distances is below this", deltaArg, 0.9)
  .option("--detect-max-growing <n>", "PRADA: most inputs kept per key and class in the growing set (the oldest are dropped)", integerArg(1, 100_000), 100)
  .option("--detect-max-distances <n>", "PRADA: most recent distances kept per key and class", integerArg(10, 100_000), 500)
  .option("--detect-max-clients <n>", "PRADA without --redis: most API keys whose state is kept in memory (least recently seen dropped first)", integerArg(1), 1000)
  .option("--job-timeout <ms>", "a worker busy longer than this on one batch is replaced", integerArg(100), 30_000)
  .option("--cache-dir <dir>", "where the demo model is cached (default $PREDICTION_POISONING_CACHE or ~/.cache/prediction-poisoning)")
  .option("--demo", "also serve the browser demo page at /demo/")
  .option("--plots <dir>", "evaluation plots (SVG) shown by the demo page (default docs/results)")
  .option("--access-log", "print one JSON line per request (never inputs or probabilities)")
  .option("--key-file <path>", "secret key of a keyed defense (--key-mix/--key-jitter > 0), created with mode 0600 on first start; every replica needs the same file (default <cache dir>/defense.key)")
  .option("--watermark <rate>", "DAWN watermark: a keyed ~rate of the queries (any --defense) get a keyed wrong top-1 label, recorded for `verify` (uses --key-file)", rateArg)
  .addOption(new Option("--watermark-keying <how>", "a label mark's wrong class: drawn per input (DAWN), or one keyed class per top-1 class (the soft marks' map)").choices(["input", "class"]).default("input"))
  .option("--watermark-soft <rate>", "soft marks: a keyed ~rate of the queries keep their top-1 but move mass into a keyed class (per top-1 class), for thieves that train on probabilities (uses --key-file)", fractionArg)
  .option("--watermark-soft-mass <m>", "the most mass a soft mark moves (capped so the top-1 keeps at least half its lead)", fractionArg, 0.25)
  .addOption(new Option("--watermark-soft-keying <how>", "a soft mark's class: one keyed class per top-1 class, or drawn per input").choices(["class", "input"]).default("class"))
  .option("--watermark-soft-log <rate>", "record only this share of the queries' soft marks (default: all of them; verify uses at most a few hundred)", fractionArg)
  .option("--watermark-log <dir>", "record watermarked queries in this directory (one append-only file per worker; created if missing); default with --redis: the Redis list pp:watermarks")
  .option("--public-params", "publish the defense's public parameters (ε, β, ...) in GET /v1/model; by default only its name and whether it is keyed");

// One flag per defense parameter name (shared names such as epsilon serve every defense that has them).
const reserved = new Set(serveCommand.options.map((o) => o.attributeName()));
const parameterFlags = new Map<string, string>(); // option attribute -> parameter name
for (const defense of listDefenses()) {
  for (const p of defense.parameters) {
    if (p.secret && p.type === "string") continue; // keys come from --key-file
    const flag = kebab(p.name);
    const attribute = camel(flag);
    if (reserved.has(attribute) || parameterFlags.has(attribute)) continue;
    const users = listDefenses()
      .filter((d) => d.parameters.some((q) => q.name === p.name))
      .map((d) => d.name);
    const choices = p.choices ? `: ${p.choices.join(" | ")}` : p.type === "boolean" ? ": true | false" : "";
    serveCommand.option(`--${flag} <value>`, `${users.join(", ")} parameter ${p.name}${choices}`);
    parameterFlags.set(attribute, p.name);
  }
}

interface ServeFlags {
  model: string;
  upstream?: string;
  upstreamProtocol?: "kserve-v2" | "tfserving" | "json";
  upstreamModel?: string;
  upstreamInput?: string;
  upstreamOutput?: string;
  upstreamTimeout: number;
  inputShape?: number[];
  numClasses?: number;
  protocol?: "kserve-v2";
  modelName?: string;
  param?: string[];
  outputs: "logits" | "probabilities";
  classes?: string;
  defense: string;
  proxyArch: Architecture;
  proxySeed: number;
  proxyModel?: string;
  misinformationModel?: string;
  scorerModel?: string;
  host: string;
  port: number;
  workers?: number;
  maxQueue: number;
  maxBatch: number;
  maxBody: number;
  inputRange: [number, number] | null;
  budget?: number;
  budgetWindow?: number;
  apiKeyHeader: string;
  apiKeys?: string;
  redis?: string;
  jobTimeout: number;
  cacheDir?: string;
  demo?: boolean;
  plots?: string;
  accessLog?: boolean;
  keyFile?: string;
  publicParams?: boolean;
  watermark?: number;
  watermarkKeying: "input" | "class";
  watermarkSoft?: number;
  watermarkSoftMass: number;
  watermarkSoftKeying: "class" | "input";
  watermarkSoftLog?: number;
  watermarkLog?: string;
  detect?: "prada";
  onDetect: "flag" | "block";
  detectDelta: number;
  detectMaxGrowing: number;
  detectMaxDistances: number;
  detectMaxClients: number;
  [parameter: string]: unknown;
}

/** Whether the defense with these parameters needs the deployment's key. */
function needsKey(defense: string, params: Record<string, unknown>): boolean {
  const takesKey = describeDefense(defense).parameters.some((p) => p.name === "key" && p.secret);
  if (!takesKey) return false;
  const filled = publicParameters(defense, params);
  return isKeyed({ keyMix: Number(filled.keyMix), keyJitter: Number(filled.keyJitter) });
}

/**
 * The defense's parameters from the flags, validated by building the defense once here (fail before any
 * worker starts), and the key file when it is keyed. The key itself stays out of the returned parameters.
 */
async function defenseParameters(
  flags: ServeFlags,
  log: (line: string) => void,
): Promise<{ params: Record<string, unknown>; keyFile?: string; keyed: boolean }> {
  const info = describeDefense(flags.defense);
  const raw: Record<string, string> = {};
  for (const [attribute, name] of parameterFlags) {
    const value = flags[attribute];
    if (value === undefined) continue;
    if (!info.parameters.some((p) => p.name === name)) {
      const own = info.parameters.map((p) => `--${kebab(p.name)}`).join(", ") || "none";
      throw new DefenseConfigError(flags.defense, name, `--${kebab(name)} does not apply to this defense (its parameter flags: ${own})`);
    }
    raw[name] = String(value);
  }
  for (const pair of flags.param ?? []) {
    const at = pair.indexOf("=");
    const name = pair.slice(0, at);
    if (name in raw) throw new DefenseConfigError(flags.defense, name, `is given twice (a flag and --param ${pair})`);
    raw[name] = pair.slice(at + 1);
  }
  const params = parseParameterStrings(flags.defense, raw);
  let keyFile: string | undefined;
  let key: string | undefined;
  const keyed = needsKey(flags.defense, params);
  if (keyed || flags.watermark || flags.watermarkSoft) {
    const { defaultKeyFile, ensureKeyFile, readKeyFile } = await import("../node/key-file.js");
    const { defaultCacheDir } = await import("../service/node/demo-model.js");
    const file = ensureKeyFile(flags.keyFile ?? defaultKeyFile(flags.cacheDir ?? defaultCacheDir()));
    log(`defense key: ${file.created ? "created" : "read"} ${file.path}${file.created ? " (mode 0600; give every replica this file)" : ""}`);
    if (file.warning) log(`warning: ${file.warning}`);
    keyFile = file.path;
    if (keyed) key = readKeyFile(file.path);
    else readKeyFile(file.path);
  } else if (flags.keyFile) {
    log(`note: --key-file is not used: defense ${flags.defense} is not keyed (set --key-mix or --key-jitter > 0)`);
  }
  const { loadCore } = await import("../core/index.js");
  // Only jacobian "layers" and GRAD² (its surrogate) insist on a proxy at construction; tfjs is loaded
  // (slowly) just for those. A scratch proxy builds its network lazily, so this one never runs.
  const proxy =
    params.jacobian === "layers" || info.trainedModels.includes("surrogate")
      ? (await import("../models/proxy.js")).Proxy.scratch({ arch: flags.proxyArch, seed: flags.proxySeed, numClasses: 2, inputShape: [1] })
      : undefined;
  // Adaptive Misinformation's models are loaded by each worker; here stand-ins only let the parameters be checked.
  const usesMisinformation = info.trainedModels.includes("misinformation");
  if (usesMisinformation && !flags.misinformationModel) {
    throw new DefenseConfigError(flags.defense, undefined, "needs --misinformation-model <dir> (train one: prediction-poisoning train --kind misinformation --out <dir>)");
  }
  const standIn = { probs: async () => new Float32Array(0) };
  const models = usesMisinformation ? { misinformation: standIn, scorer: flags.scorerModel ? standIn : undefined } : {};
  const probe = createDefense(flags.defense, key ? { ...params, key } : params, { core: info.needsCore ? await loadCore() : undefined, proxy, ...models });
  const validated = { ...probe.params };
  probe.dispose?.();
  return { params: validated, keyFile, keyed };
}

/**
 * The sidecar's flags, checked before anything starts (exit code 2 on a bad combination): the upstream's
 * options, or undefined when the victim is a tfjs --model.
 */
function upstreamFlags(flags: ServeFlags, command: Command, log: (line: string) => void): UpstreamOptions | undefined {
  const given = (attribute: string) => {
    const source = command.getOptionValueSource(attribute);
    return source !== undefined && source !== "default";
  };
  const usage = (message: string): never => command.error(`error: ${message}`, { exitCode: 2 });
  const flagList = (attributes: string[]) => `${attributes.map((o) => `--${kebab(o)}`).join(", ")} ${attributes.length === 1 ? "applies" : "apply"}`;
  const sidecarOnly = ["upstreamProtocol", "upstreamModel", "upstreamInput", "upstreamOutput", "upstreamTimeout", "inputShape", "numClasses"];
  if (flags.modelName !== undefined && flags.protocol === undefined) usage("--model-name names the model in the kserve-v2 routes: add --protocol kserve-v2");
  if (flags.upstream === undefined) {
    const stray = sidecarOnly.filter(given).filter((o) => !(o === "upstreamOutput" && flags.protocol));
    if (stray.length) usage(`${flagList(stray)} only with --upstream <url> (a tfjs --model's input shape and classes are read from the model)`);
    return undefined;
  }
  if (given("model")) usage("--upstream and --model are two different victims: give one (an upstream model server, or a tfjs model directory)");
  if (flags.demo) usage("--demo runs the served model in the browser page: it needs a tfjs --model, not --upstream");
  const protocol = flags.upstreamProtocol ?? usage("--upstream needs --upstream-protocol kserve-v2|tfserving|json: how to ask the model server");
  if (!flags.inputShape) usage("--upstream needs --input-shape H,W,C: the shape of one input the model server takes (requests are validated against it; MAD's proxy runs on it)");
  if (flags.numClasses === undefined) usage("--upstream needs --num-classes N: the number of classes the model server answers (answers with another number are refused with 502)");
  if (protocol !== "json" && !flags.upstreamModel) usage(`--upstream-protocol ${protocol} addresses the model by name: give --upstream-model <name>`);
  if (protocol !== "kserve-v2") {
    const stray = ["upstreamInput", ...(flags.protocol ? [] : ["upstreamOutput"])].filter(given);
    if (stray.length) usage(`${flagList(stray)} only to --upstream-protocol kserve-v2`);
  }
  if (protocol === "json" && flags.upstreamModel) usage("--upstream-model does not apply to --upstream-protocol json: --upstream is the endpoint itself");
  if (flags.upstreamTimeout >= flags.jobTimeout) {
    usage(`--upstream-timeout ${flags.upstreamTimeout} must be below --job-timeout ${flags.jobTimeout}: an upstream that does not answer is a 504, not a hung worker to replace`);
  }
  const classes = flags.classes?.split(",");
  if (classes && classes.length !== flags.numClasses) usage(`--classes names ${classes.length} classes, --num-classes says ${flags.numClasses}`);
  if (protocol === "json" && given("outputs")) log('note: --outputs does not apply to --upstream-protocol json: its answer says which, {"logits": ...} or {"probabilities": ...}');
  const options: UpstreamOptions = {
    url: flags.upstream,
    protocol,
    model: flags.upstreamModel,
    inputName: flags.upstreamInput,
    outputName: flags.upstreamOutput,
    outputs: flags.outputs,
    inputShape: flags.inputShape!,
    numClasses: flags.numClasses!,
    timeoutMs: flags.upstreamTimeout,
  };
  try {
    return checkUpstreamOptions(options);
  } catch (e) {
    if (isProblem(e) && e.kind === "config") return usage(`--upstream: ${e.message}`);
    throw e;
  }
}

serveCommand.action(async (flags: ServeFlags, command: Command) => {
  const log = (line: string) => console.error(line);
  let params: Record<string, unknown>;
  let keyFile: string | undefined;
  let keyed = false;
  const upstream = upstreamFlags(flags, command, log);
  try {
    const marking = Boolean(flags.watermark || flags.watermarkSoft);
    if (marking && flags.watermarkLog === undefined && flags.redis === undefined) {
      command.error(`error: ${flags.watermark ? "--watermark" : "--watermark-soft"} needs somewhere to record the watermarked queries: --watermark-log <dir> or --redis <url>`, { exitCode: 2 });
    }
    if ((flags.watermark ?? 0) + (flags.watermarkSoft ?? 0) > 1) command.error("error: --watermark and --watermark-soft add up to more than 1", { exitCode: 2 });
    if (flags.watermarkSoftLog !== undefined && flags.watermarkSoftLog > (flags.watermarkSoft ?? 0)) {
      command.error(`error: --watermark-soft-log ${flags.watermarkSoftLog} is more than --watermark-soft ${flags.watermarkSoft ?? 0} (it is the share of all queries whose soft mark is recorded)`, { exitCode: 2 });
    }
    if (flags.watermarkSoftMass <= 0) command.error("error: --watermark-soft-mass must be above 0", { exitCode: 2 });
    if (flags.watermarkLog !== undefined && !marking) log("note: --watermark-log is not used without --watermark or --watermark-soft");
    if (flags.budget !== undefined && !flags.apiKeys) {
      command.error(
        "error: --budget counts inputs per API key: give the accepted keys with --api-keys <file> (one per line); without them a client could mint a fresh key, and a fresh budget, at will",
        { exitCode: 2 },
      );
    }
    if (flags.detect !== undefined && !flags.apiKeys) {
      command.error(
        "error: --detect judges each client by its API key: give the accepted keys with --api-keys <file> (one per line); without them a thief could switch keys at will",
        { exitCode: 2 },
      );
    }
    ({ params, keyFile, keyed } = await defenseParameters(flags, log));
  } catch (e) {
    if (e instanceof DefenseConfigError) command.error(`error: ${e.message}`, { exitCode: 2, code: "prediction-poisoning.defense" });
    throw e;
  }
  const { architectures } = await import("../models/zoo.js");
  if (!architectures.includes(flags.proxyArch)) {
    command.error(`error: option '--proxy-arch <arch>' argument '${flags.proxyArch}' is invalid. Allowed choices are ${architectures.join(", ")}.`, { exitCode: 2 });
  }
  const { startServer } = await import("../service/node/server.js");

  let modelDir = flags.model;
  let modelName = flags.model;
  if (upstream) {
    modelDir = "";
    modelName = upstreamModelName(upstream);
  } else if (flags.model === "demo") {
    const { ensureDemoModel } = await import("../service/node/demo-model.js");
    const demo = await ensureDemoModel({ cacheDir: flags.cacheDir, log });
    modelDir = demo.dir;
    modelName = `demo MNIST LeNet (held-out accuracy ${(demo.testAccuracy * 100).toFixed(1)}%)`;
  } else {
    const { modelExists } = await import("../node/model-files.js");
    if (!modelExists(modelDir)) throw new PredictionPoisoningError("not-found", `--model ${modelDir}: no model.json there (give a tfjs model directory, or "demo")`, { field: "--model" });
  }
  for (const [flag, dir] of [["--proxy-model", flags.proxyModel], ["--misinformation-model", flags.misinformationModel], ["--scorer-model", flags.scorerModel]] as const) {
    if (!dir) continue;
    const { modelExists } = await import("../node/model-files.js");
    if (!modelExists(dir)) throw new PredictionPoisoningError("not-found", `${flag} ${dir}: no model.json there`, { field: flag });
  }

  const proxy = flags.proxyModel ? { dir: flags.proxyModel } : { arch: flags.proxyArch, seed: flags.proxySeed };
  let watermark: {
    rate: number; labelKeying?: "class" | "input"; softRate?: number; softMass?: number; softKeying?: "class" | "input"; softLogRate?: number; keyFile: string; log?: { dir: string } | { redis: string };
  } | undefined;
  if ((flags.watermark || flags.watermarkSoft) && keyFile) {
    let target: { dir: string } | { redis: string };
    if (flags.watermarkLog !== undefined) {
      const { mkdirSync } = await import("node:fs");
      mkdirSync(flags.watermarkLog, { recursive: true, mode: 0o700 });
      target = { dir: flags.watermarkLog };
    } else target = { redis: flags.redis! };
    const soft = flags.watermarkSoft
      ? { softRate: flags.watermarkSoft, softMass: flags.watermarkSoftMass, softKeying: flags.watermarkSoftKeying, softLogRate: flags.watermarkSoftLog }
      : {};
    watermark = { rate: flags.watermark ?? 0, labelKeying: flags.watermarkKeying, ...soft, keyFile, log: target };
    const { redactUrl } = await import("../service/node/redis-budgets.js");
    const softText = flags.watermarkSoft ? `, soft marks on about ${flags.watermarkSoft} (mass ≤ ${flags.watermarkSoftMass}, keyed per ${flags.watermarkSoftKeying}; ${flags.watermarkSoftLog ?? flags.watermarkSoft} recorded)` : "";
    log(`watermark: label marks on about ${flags.watermark ?? 0} of the queries (keyed per ${flags.watermarkKeying})${softText}, recorded in ${"dir" in target ? target.dir : `${redactUrl(target.redis)} (list pp:watermarks)`}`);
  }
  const server = await startServer({
    predictor: {
      modelDir,
      modelName,
      outputs: flags.outputs,
      classes: flags.classes?.split(",").map((s) => s.trim()),
      defense: flags.defense,
      params,
      proxy,
      misinformationModel: flags.misinformationModel,
      scorerModel: flags.scorerModel,
      keyFile: keyed ? keyFile : undefined,
      publishParams: flags.publicParams === true,
      watermark,
      upstream,
    },
    kserve: flags.protocol === "kserve-v2" ? { modelName: flags.modelName ?? flags.upstreamModel ?? "model", outputName: flags.upstreamOutput } : undefined,
    host: flags.host,
    port: flags.port,
    workers: flags.workers ?? availableParallelism(),
    limits: { maxBatch: flags.maxBatch, maxBodyBytes: flags.maxBody, inputRange: flags.inputRange },
    apiKeys: flags.apiKeys ? { header: flags.apiKeyHeader, keysFile: flags.apiKeys } : undefined,
    detect: flags.detect
      ? {
          detector: flags.detect,
          onDetect: flags.onDetect,
          prada: { delta: flags.detectDelta, maxGrowing: flags.detectMaxGrowing, maxDistances: flags.detectMaxDistances },
          maxClients: flags.detectMaxClients,
        }
      : undefined,
    budget:
      flags.budget !== undefined
        ? { limit: flags.budget, windowSeconds: flags.budgetWindow, header: flags.apiKeyHeader, keysFile: flags.apiKeys }
        : undefined,
    // --redis without --budget is only for the watermark log (the workers connect themselves).
    redis: flags.budget !== undefined || flags.detect !== undefined || !(watermark?.log && "redis" in watermark.log) ? flags.redis : undefined,
    jobTimeoutMs: flags.jobTimeout,
    maxQueueRows: flags.maxQueue,
    log,
    accessLog: flags.accessLog ? (entry) => console.log(JSON.stringify({ time: new Date().toISOString(), ...entry })) : undefined,
    extraRoutes: flags.demo
      ? async (info) => {
          const { demoRoutes } = await import("../service/node/demo-routes.js");
          const page = await demoRoutes({ modelDir, info, plotsDir: flags.plots, proxy: "dir" in proxy ? undefined : proxy });
          return (app) => {
            app.route("/demo", page);
            app.get("/", (c) => c.redirect("/demo/"));
          };
        }
      : undefined,
  });
  if (flags.demo && !flags.publicParams) log("note: the demo page does not see the defense's parameters (it starts at ε = 1): add --public-params to publish them");
  if (flags.budget === undefined && flags.budgetWindow !== undefined) log("note: --budget-window takes effect only with --budget");
  if (flags.detect === undefined) {
    const unused = ["onDetect", "detectDelta", "detectMaxGrowing", "detectMaxDistances", "detectMaxClients"].filter((o) => {
      const source = command.getOptionValueSource(o);
      return source !== undefined && source !== "default";
    });
    if (unused.length) log(`note: ${unused.map((o) => `--${kebab(o)}`).join(", ")} take effect only with --detect prada`);
  }
  console.log(`listening on ${server.url}`);
  if (upstream) {
    // One probe query (zeros) tells the operator at once whether the upstream answers as configured; not fatal:
    // a sidecar may start before its model server.
    const where = `upstream ${redactUpstreamUrl(upstream.url)}`;
    const n = upstream.inputShape.reduce((a, b) => a * b, 1);
    upstreamVictim(upstream)({ data: new Float32Array(n), batchSize: 1, inputShape: upstream.inputShape }).then(
      () => log(`${where}: answered a probe query with ${upstream.numClasses} classes`),
      (e: Error) => log(`warning: ${where}: ${e.message}; queries get 502 or 504 until it answers`),
    );
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1); // a second signal: do not wait
    stopping = true;
    log(`${signal}: finishing in-flight queries, then stopping`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
});

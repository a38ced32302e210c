// The edge-safe service API (no `node:` imports): the Hono app and what it is built from.
// The Node host (worker pool, Redis budgets, server) is in ./node/.
export { createApp, defaultLimits, type ApiKeyConfig, type AppOptions, type BudgetConfig, type HostStatus, type RequestLog, type ServiceLimits } from "./app.js";
export { MemoryBudgetStore, type BudgetDecision, type BudgetOptions, type BudgetStore, type MemoryBudgetOptions } from "./budgets.js";
export { defendedPredictor } from "./defended.js";
export { ServiceError, type ErrorKind } from "./errors.js";
export { ServiceMetrics } from "./metrics.js";
export type { Prediction, Predictor, Reservation, ServedModelInfo, UpstreamInfo } from "./predictor.js";
export {
  describeUpstream, redactUpstreamUrl, upstreamPredictor, upstreamProtocols, upstreamVictim,
  type UpstreamOptions, type UpstreamPredictorOptions, type UpstreamProtocol,
} from "./upstream.js";
export { createKserveDecoder, kserveMetadata, kserveRequestSchema, kserveResponse, type KserveOptions } from "./kserve.js";
export { bodySchemas, createBodyDecoder, encodeFloat32Base64, type InputLimits } from "./schema.js";
export { openApiDocument, type OpenApiOptions } from "./openapi.js";
export {
  PradaDetection, onDetectChoices, type ClientDetection, type ClientVerdict, type OnDetect, type PradaDetectionOptions, type VerdictName,
} from "./detection.js";

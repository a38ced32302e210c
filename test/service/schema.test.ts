// The nested body form's fast reader against the schema it stands in for: over valid bodies and
// bodies with one fault each, the decoder accepts exactly what the valibot schema accepts, returns the
// same values, and every rejection still carries the schema's field and message.
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as v from "valibot";
import { bodySchemas, createBodyDecoder, type InputLimits } from "../../src/service/schema.js";
import { ServiceError } from "../../src/service/errors.js";
import { stream } from "../../src/models/random.js";

const shape = [3, 2, 2];
const limits: InputLimits = { maxBatch: 4, inputRange: [0, 1] };
const random = stream(7, "schema-test");

function validBody(batch: number): { inputs: number[][][][] } {
  const inputs = Array.from({ length: batch }, () =>
    Array.from({ length: shape[0] }, () => Array.from({ length: shape[1] }, () => Array.from({ length: shape[2] }, () => random.uniform()))),
  );
  return { inputs };
}

/** One fault at a random place: a bad leaf, a wrong length, a wrong type, a stray key, a batch size out of bounds. */
function faulty(body: { inputs: unknown[] }): unknown {
  const copy = structuredClone(body) as { inputs: unknown[]; [k: string]: unknown };
  const leaves: unknown[] = [Number.NaN, Infinity, -Infinity, 1e39, -0.5, 1.5, "0.5", null, true, [0.5], {}];
  const b = Math.floor(random.uniform() * copy.inputs.length);
  const row = copy.inputs[b] as unknown[][][];
  const i = Math.floor(random.uniform() * shape[0]);
  const j = Math.floor(random.uniform() * shape[1]);
  switch (Math.floor(random.uniform() * 7)) {
    case 0:
      row[i][j][Math.floor(random.uniform() * shape[2])] = leaves[Math.floor(random.uniform() * leaves.length)];
      break;
    case 1:
      row[i][j].push(0.5);
      break;
    case 2:
      row[i].pop();
      break;
    case 3:
      (copy.inputs as unknown[])[b] = "not an array";
      break;
    case 4:
      copy.extra = 1;
      break;
    case 5:
      copy.inputs = [];
      break;
    default:
      while (copy.inputs.length <= limits.maxBatch) copy.inputs.push(copy.inputs[0]);
  }
  return copy;
}

test("the decoder accepts exactly what the schema accepts, with the schema's values and messages", () => {
  const decode = createBodyDecoder(shape, limits);
  const { nested } = bodySchemas(shape, limits);
  let accepted = 0;
  let rejected = 0;
  for (let n = 0; n < 600; n++) {
    const good = validBody(1 + Math.floor(random.uniform() * limits.maxBatch));
    const body = n % 3 === 0 ? good : faulty(good);
    const bySchema = v.safeParse(nested, body, { abortEarly: true });
    let decoded: Float32Array | null = null;
    let error: unknown = null;
    try {
      decoded = decode(body).data;
    } catch (e) {
      error = e;
    }
    assert.is(decoded !== null, bySchema.success, JSON.stringify(body));
    if (decoded) {
      accepted++;
      assert.equal(Array.from(decoded), Array.from(Float32Array.from((body as { inputs: number[][][][] }).inputs.flat(3))));
    } else {
      rejected++;
      assert.instance(error, ServiceError);
      const e = error as ServiceError;
      assert.ok(e.field && e.message.startsWith(`${e.field}: `), e.message);
    }
  }
  assert.ok(accepted > 150 && rejected > 150, `${accepted} accepted, ${rejected} rejected`);
});

test("a value beyond float32 and a value outside the range are named by their field", () => {
  const decode = createBodyDecoder(shape, limits);
  const body = validBody(2);
  body.inputs[1][2][0][1] = 1e39;
  assert.throws(() => decode(body), (e: ServiceError) => e.field === "inputs[1][2][0][1]" && /beyond the float32 range/.test(e.message));
  body.inputs[1][2][0][1] = 2;
  assert.throws(() => decode(body), (e: ServiceError) => e.field === "inputs[1][2][0][1]" && /outside the input range \[0, 1\]/.test(e.message));
  const open = createBodyDecoder(shape, { maxBatch: 4, inputRange: null });
  assert.is(open(body).data[1 * 12 + 2 * 4 + 0 * 2 + 1], 2);
});

test.run();

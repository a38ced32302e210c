// The worker pool with a scripted predictor module: spreading, merging, crash, exit and hang recovery,
// start failures and graceful close.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { WorkerPool } from "../../src/service/node/worker-pool.js";
import { ServiceError } from "../../src/service/errors.js";

const module = new URL("./fixtures/scripted-predictor.ts", import.meta.url).href;
const batchOf = (...firstPixels: number[]) => {
  const data = new Float32Array(firstPixels.length * 4);
  firstPixels.forEach((x, b) => (data[b * 4] = x));
  return { data, batchSize: firstPixels.length, inputShape: [2, 2, 1] };
};

test("answers batches, splits merged dispatches back per request, uses every worker", async () => {
  const pool = await WorkerPool.start({ module, options: { delayMs: 20 }, size: 2 });
  try {
    assert.is(pool.readyCount, 2);
    assert.equal(pool.info.inputShape, [2, 2, 1]);
    const answers = await Promise.all([0.1, 0.2, 0.3, 0.4, 0.6, 0.9].map((x) => pool.predict(batchOf(x, x / 2))));
    answers.forEach((a, i) => {
      const x = Math.fround([0.1, 0.2, 0.3, 0.4, 0.6, 0.9][i]);
      assert.is(a.probs.length, 6);
      assert.is(a.probs[0], x);
      assert.is(a.probs[3], Math.fround(x / 2));
      assert.is(a.labels.length, 2);
    });
    const threads = new Set(answers.map((a) => a.l1[0]));
    assert.is(threads.size, 2, "both workers answered");
  } finally {
    await pool.close();
  }
});

test("a crashed worker fails only its batch and is replaced; a rejection is not a crash", async () => {
  const pool = await WorkerPool.start({ module, options: {}, size: 1 });
  try {
    const before = (await pool.predict(batchOf(0.1))).l1[0];
    const err = await pool.predict(batchOf(0.25)).catch((e) => e);
    assert.instance(err, ServiceError);
    assert.is(err.kind, "worker_crash");
    // Queued work waits for the replacement instead of failing.
    const after = await pool.predict(batchOf(0.1));
    assert.is.not(after.l1[0], before, "answered by a new thread");
    assert.is(pool.restartCount, 1);
    const rejected = await pool.predict(batchOf(0.75)).catch((e) => e);
    assert.is(rejected.name, "RangeError");
    assert.is(pool.restartCount, 1);
    assert.ok(await pool.predict(batchOf(0.1)));
  } finally {
    await pool.close();
  }
});

test("a worker that exits (process.exit) fails only its batch as a crash, without waiting for the job timeout, and is replaced", async () => {
  const pool = await WorkerPool.start({ module, options: {}, size: 1, jobTimeoutMs: 20_000 });
  try {
    const before = (await pool.predict(batchOf(0.1))).l1[0];
    const started = Date.now();
    const err = await pool.predict(batchOf(0.125)).catch((e) => e);
    assert.is(err.kind, "worker_crash");
    assert.ok(Date.now() - started < 5000, "failed at the exit, not at the job timeout");
    assert.is.not((await pool.predict(batchOf(0.1))).l1[0], before, "answered by a new thread");
    assert.is(pool.restartCount, 1);
  } finally {
    await pool.close();
  }
});

test("a hung worker is terminated after the job timeout and replaced", async () => {
  const pool = await WorkerPool.start({ module, options: {}, size: 1, jobTimeoutMs: 300 });
  try {
    const err = await pool.predict(batchOf(0.5)).catch((e) => e);
    assert.is(err.kind, "timeout");
    assert.ok(await pool.predict(batchOf(0.1)));
    assert.is(pool.restartCount, 1);
  } finally {
    await pool.close();
  }
});

test("a query that no worker takes in time fails with a timeout instead of waiting forever", async () => {
  const pool = await WorkerPool.start({ module, options: {}, size: 1, queueTimeoutMs: 200, jobTimeoutMs: 5000 });
  try {
    const hung = pool.predict(batchOf(0.5)).catch((e) => e); // occupies the only worker
    const waiting = await pool.predict(batchOf(0.1)).catch((e) => e);
    assert.is(waiting.kind, "timeout");
    assert.match(waiting.message, /no model worker took the query within 200 ms/);
    void hung;
  } finally {
    await pool.close(100);
  }
});

test("the queue is bounded per worker: a query that would overfill it is refused (overloaded, retry after 1 s)", async () => {
  const pool = await WorkerPool.start({ module, options: { delayMs: 150 }, size: 1, maxQueueRows: 3 });
  try {
    assert.is(pool.queueCapacity, 3);
    const running = pool.predict(batchOf(0.1)); // taken by the worker at once
    await new Promise((r) => setTimeout(r, 20));
    const queued = [pool.predict(batchOf(0.2, 0.2)), pool.predict(batchOf(0.3))];
    assert.is(pool.queueRows, 3);
    assert.ok(pool.saturated());
    const refused = await pool.predict(batchOf(0.4)).catch((e) => e);
    assert.instance(refused, ServiceError);
    assert.equal([refused.kind, refused.status, refused.retryAfter], ["overloaded", 503, 1]);
    assert.ok(await running);
    assert.is((await Promise.all(queued)).length, 2, "admitted queries are answered");
    assert.is(pool.queueRows, 0);
    assert.not.ok(pool.saturated());
    // A query larger than the whole queue still enters an empty one.
    assert.is((await pool.predict(batchOf(0.1, 0.1, 0.1, 0.1, 0.1))).labels.length, 5);
  } finally {
    await pool.close();
  }
});

test("maxQueueRows 0: a query is admitted only while a worker is free for it; nothing waits behind a batch", async () => {
  const pool = await WorkerPool.start({ module, options: { delayMs: 100 }, size: 2, maxQueueRows: 0 });
  try {
    assert.is(pool.queueCapacity, 0);
    const held = pool.reserve(1)!;
    assert.ok(held, "two workers free: a body may be read");
    const first = pool.predict(batchOf(0.1)); // the other worker
    assert.ok(pool.saturated(), "one query answered, one being read: both workers spoken for");
    assert.is(pool.reserve(1), null);
    const refused = await pool.predict(batchOf(0.2)).catch((e) => e);
    assert.equal([refused.kind, refused.status], ["overloaded", 503]);
    const second = pool.predict(batchOf(0.3), { reservation: held }); // converts the reservation
    assert.is(pool.queueRows, 0, "it went straight to the free worker");
    await Promise.all([first, second]);
    assert.not.ok(pool.saturated());
    assert.ok(pool.reserve(64), "free again");
  } finally {
    await pool.close();
  }
});

test("reservations hold queue room while a body is read; they are released by predict, by release() or after reservationMs", async () => {
  const pool = await WorkerPool.start({ module, options: { delayMs: 50 }, size: 1, maxQueueRows: 4, reservationMs: 200 });
  try {
    const a = pool.reserve(4)!;
    assert.ok(a, "an empty queue takes any query");
    assert.is(pool.reserve(1), null, "the room is held");
    assert.ok(pool.saturated());
    a.release();
    a.release(); // twice is harmless
    const b = pool.reserve(3)!;
    const c = pool.reserve(1)!;
    assert.ok(b && c);
    assert.is(pool.reserve(1), null);
    await pool.predict(batchOf(0.1, 0.2, 0.3), { reservation: b }); // converts b, and is answered
    c.release();
    pool.reserve(4); // never released: lapses
    assert.is(pool.reserve(1), null);
    await new Promise((r) => setTimeout(r, 250));
    assert.ok(pool.reserve(1), "a lapsed reservation no longer holds the queue");
  } finally {
    await pool.close();
  }
});

test("a predictor that cannot start fails WorkerPool.start with its message", async () => {
  const err = await WorkerPool.start({ module, options: { failStart: "no model.json in /nowhere" }, size: 2 }).catch((e) => e);
  assert.instance(err, Error);
  assert.match(err.message, /no model\.json in \/nowhere/);
});

test("close() lets in-flight batches finish, then refuses new ones", async () => {
  const pool = await WorkerPool.start({ module, options: { delayMs: 100 }, size: 1 });
  const inFlight = [pool.predict(batchOf(0.1)), pool.predict(batchOf(0.2))];
  const closed = pool.close();
  const refused = await pool.predict(batchOf(0.3)).catch((e) => e);
  assert.is(refused.kind, "unavailable");
  const answers = await Promise.all(inFlight);
  assert.is(answers.length, 2);
  await closed;
  assert.is(pool.readyCount, 0);
});

test.run();

// The test-only LP solver is itself an oracle: check it on programs with known answers.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { solveLinearProgram } from "../reference/lp.js";

test("a textbook maximisation", () => {
  // max 3x + 5y s.t. x <= 4, 2y <= 12, 3x + 2y <= 18: optimum (2, 6), value 36.
  const r = solveLinearProgram({
    objective: [3, 5],
    constraints: [
      { coefficients: [1, 0], relation: "<=", rhs: 4 },
      { coefficients: [0, 2], relation: "<=", rhs: 12 },
      { coefficients: [3, 2], relation: "<=", rhs: 18 },
    ],
  });
  assert.is(r.status, "optimal");
  if (r.status !== "optimal") return;
  assert.ok(Math.abs(r.value - 36) < 1e-9);
  assert.ok(Math.abs(r.x[0] - 2) < 1e-9 && Math.abs(r.x[1] - 6) < 1e-9);
});

test("equality and >= constraints (phase 1), negative right-hand sides", () => {
  // max -x - y s.t. x + y = 3, x >= 1, -y <= -0.5: value -3 at any split; x + y must be 3.
  const r = solveLinearProgram({
    objective: [-1, -2],
    constraints: [
      { coefficients: [1, 1], relation: "=", rhs: 3 },
      { coefficients: [1, 0], relation: ">=", rhs: 1 },
      { coefficients: [0, -1], relation: "<=", rhs: -0.5 },
    ],
  });
  assert.is(r.status, "optimal");
  if (r.status !== "optimal") return;
  assert.ok(Math.abs(r.value - -3.5) < 1e-9, String(r.value)); // y as small as allowed: x = 2.5, y = 0.5
});

test("infeasible and unbounded programs are recognised", () => {
  assert.is(
    solveLinearProgram({ objective: [1], constraints: [{ coefficients: [1], relation: "<=", rhs: 1 }, { coefficients: [1], relation: ">=", rhs: 2 }] }).status,
    "infeasible",
  );
  assert.is(solveLinearProgram({ objective: [1, 0], constraints: [{ coefficients: [0, 1], relation: "<=", rhs: 1 }] }).status, "unbounded");
});

test.run();

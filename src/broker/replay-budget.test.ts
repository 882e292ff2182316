// The replay budget's accounting: leases take within the bound, give back once, and a reload moves the bound.
import { expect, test } from "bun:test";
import { ReplayBudget } from "./replay-budget.ts";

test("leases take within the bound and refuse beyond it, reserving nothing on a refusal", () => {
  const b = new ReplayBudget(() => 100);
  const x = b.lease();
  const y = b.lease();
  expect(x.take(60)).toBe(true);
  expect(y.take(50)).toBe(false);
  expect(y.held).toBe(0);
  expect(y.take(40)).toBe(true);
  expect([b.held, b.available, x.held, y.held]).toEqual([100, 0, 60, 40]);
  expect(x.take(1)).toBe(false);
});

test("release gives every byte back once; a released lease takes nothing more", () => {
  const b = new ReplayBudget(() => 100);
  const x = b.lease();
  x.take(30);
  x.take(30);
  const y = b.lease();
  y.take(20);
  x.release();
  x.release();
  expect(b.held).toBe(20);
  expect(x.take(10)).toBe(false);
  expect(b.held).toBe(20);
  y.release();
  expect(b.held).toBe(0);
});

test("the bound is read at each reservation: a lower limit refuses new bytes, held ones stay until released", () => {
  let limit = 100;
  const b = new ReplayBudget(() => limit);
  const x = b.lease();
  expect(x.take(80)).toBe(true);
  limit = 50;
  expect(b.lease().take(1)).toBe(false);
  expect(b.available).toBe(0);
  x.release();
  expect(b.lease().take(50)).toBe(true);
});

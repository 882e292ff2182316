// RedisUptime: a blip keeps the uptime from before it; a real outage starts it over.
import { expect, test } from "bun:test";
import { RedisUptime } from "./redis-uptime.ts";

test("an outage shorter than the blip bound keeps the uptime from before it; a longer one starts it over", () => {
  let t = 0;
  const u = new RedisUptime(1_000, () => t);
  expect(u.ms()).toBe(0);
  u.up();
  t = 5_000;
  u.down();
  expect(u.ms()).toBe(0);
  t = 5_700;
  u.up();
  expect(u.ms()).toBe(5_700);
  t = 9_000;
  u.down();
  t = 10_500;
  u.up();
  expect(u.ms()).toBe(0);
  t = 11_000;
  expect(u.ms()).toBe(500);
  // Repeated up() while up, and down() while down, change nothing.
  u.up();
  expect(u.ms()).toBe(500);
  u.down();
  t = 11_200;
  u.down();
  u.up();
  expect(u.ms()).toBe(700);
});

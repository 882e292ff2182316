// Unit tests for the inspector ring: bounded, newest first, filters, bodies off by default and capped when on.
import { describe, expect, test } from "bun:test";
import { defaultConfig } from "../config/load.ts";
import { capBody, RequestRing } from "./ring.ts";
import { inspectorOptions } from "./component.ts";
import { requestRecord as rec } from "../../tests/helpers/request-record.ts";

describe("RequestRing", () => {
  test("keeps at most `size` records, newest first, dropping the oldest", () => {
    const ring = new RequestRing({ size: 3, captureBodies: false, bodyCap: 10 });
    const all = Array.from({ length: 5 }, () => rec());
    for (const r of all) ring.add(r);
    expect(ring.size()).toBe(3);
    expect(ring.list().map((r) => r.id)).toEqual([all[4]!.id, all[3]!.id, all[2]!.id]);
    expect(ring.get(all[0]!.id)).toBeUndefined();
    expect(ring.get(all[2]!.id)?.id).toBe(all[2]!.id);
  });

  test("size 0 keeps nothing", () => {
    const ring = new RequestRing({ size: 0, captureBodies: true, bodyCap: 10 });
    expect(ring.add(rec())).toBeNull();
    expect(ring.list()).toEqual([]);
  });

  test("bodies are dropped by default (the config default is capture off)", () => {
    const opts = inspectorOptions(defaultConfig());
    expect(opts.captureBodies).toBe(false);
    const ring = new RequestRing(opts);
    ring.add(rec({ requestBody: '{"prompt":"secret plans"}', responseBody: "the answer" }));
    const [kept] = ring.list();
    expect(kept).toBeDefined();
    expect("requestBody" in kept!).toBe(false);
    expect("responseBody" in kept!).toBe(false);
    expect(JSON.stringify(ring.list())).not.toContain("secret plans");
  });

  test("with capture on, bodies are kept and capped at body_cap bytes, marked truncated", () => {
    const ring = new RequestRing({ size: 10, captureBodies: true, bodyCap: 8 });
    ring.add(rec({ requestBody: "short", responseBody: "0123456789abcdef" }));
    const [kept] = ring.list();
    expect(kept!.requestBody).toBe("short");
    expect(kept!.requestBodyTruncated).toBeUndefined();
    expect(kept!.responseBody).toBe("01234567");
    expect(kept!.responseBodyTruncated).toBe(true);
  });

  test("a body the broker already cut keeps its truncated flag", () => {
    const ring = new RequestRing({ size: 10, captureBodies: true, bodyCap: 8 });
    ring.add(rec({ requestBody: "01234567", requestBodyTruncated: true, responseBody: "ok" }));
    const [kept] = ring.list();
    expect(kept!.requestBodyTruncated).toBe(true);
    expect(kept!.responseBodyTruncated).toBeUndefined();
  });

  test("the cap never splits a UTF-8 character", () => {
    // "é" is 2 bytes, "€" is 3: a 4-byte cap on "aé€" must stop after "aé" (3 bytes).
    expect(capBody("aé€", 4)).toEqual({ text: "aé", truncated: true });
    expect(capBody("aé€", 6)).toEqual({ text: "aé€", truncated: false });
    expect(capBody("€€", 2)).toEqual({ text: "", truncated: true });
  });

  test("the stored record is a copy: later changes to the event's object do not leak in", () => {
    const ring = new RequestRing({ size: 2, captureBodies: false, bodyCap: 0 });
    const r = rec();
    ring.add(r);
    r.status = 500;
    expect(ring.list()[0]!.status).toBe(200);
  });

  test("filters by source, upstream, model, method, status class, exact status and path", () => {
    const ring = new RequestRing({ size: 50, captureBodies: false, bodyCap: 0 });
    const a = rec({ source: "tunnel", upstream: "gpu", status: 200, path: "/v1/chat/completions", model: "qwen" });
    const b = rec({ source: "local", upstream: "local", status: 503, error: "upstream unavailable", method: "GET", path: "/api/tags", model: null });
    const c = rec({ source: "local", upstream: "local", status: 404, path: "/api/show" });
    for (const r of [a, b, c]) ring.add(r);
    const ids = (f: Parameters<RequestRing["list"]>[0]) => ring.list(f).map((r) => r.id);
    expect(ids({ source: "tunnel" })).toEqual([a.id]);
    expect(ids({ upstream: "local" })).toEqual([c.id, b.id]);
    expect(ids({ model: "qwen" })).toEqual([a.id]);
    expect(ids({ method: "get" })).toEqual([b.id]);
    expect(ids({ status: "5xx" })).toEqual([b.id]);
    expect(ids({ status: "4xx" })).toEqual([c.id]);
    expect(ids({ status: "error" })).toEqual([c.id, b.id]);
    expect(ids({ status: "404" })).toEqual([c.id]);
    expect(ids({ path: "CHAT" })).toEqual([a.id]);
    expect(ids({ limit: 2 })).toEqual([c.id, b.id]);
    expect(ids({ after: a.id })).toEqual([c.id, b.id]);
  });

  test("configure: shrinking keeps the newest; turning capture off forgets kept bodies", () => {
    const ring = new RequestRing({ size: 5, captureBodies: true, bodyCap: 100 });
    const all = Array.from({ length: 5 }, () => rec({ requestBody: "hello" }));
    for (const r of all) ring.add(r);
    ring.configure({ size: 2, captureBodies: false, bodyCap: 100 });
    expect(ring.list().map((r) => r.id)).toEqual([all[4]!.id, all[3]!.id]);
    expect(ring.list().some((r) => "requestBody" in r)).toBe(false);
    // Growing again keeps what is there and accepts more.
    ring.configure({ size: 4, captureBodies: false, bodyCap: 100 });
    ring.add(rec());
    expect(ring.size()).toBe(3);
  });

  test("memory stays bounded: many adds keep exactly `size` records", () => {
    const ring = new RequestRing({ size: 100, captureBodies: true, bodyCap: 16 });
    const big = "x".repeat(100_000);
    for (let i = 0; i < 5_000; i++) ring.add(rec({ requestBody: big, responseBody: big }));
    expect(ring.size()).toBe(100);
    const total = ring.list().reduce((s, r) => s + (r.requestBody?.length ?? 0) + (r.responseBody?.length ?? 0), 0);
    expect(total).toBe(100 * 2 * 16);
  });
});

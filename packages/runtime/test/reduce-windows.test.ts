/** Window assignment, fields and result ids of a reduce vertex (issue #13): pure functions. */
import { describe, expect, it } from "vitest";
import type { Message } from "@weir/actors";
import { coverOf, overlaps, parseWindowField, resultId, windowField, windowKeysOf, windowsOf } from "../src/reduce/windows.js";

const message = (keys: readonly string[]): Message => ({ id: "m", keys, value: new Uint8Array(), eventTime: 0, headers: {} });

describe("window assignment", () => {
  it("fixed: the one [k·length, (k+1)·length) covering t, also before the Unix epoch", () => {
    expect(windowsOf({ fixed: { length: 1000 } }, 1999)).toEqual([{ start: 1000, end: 2000 }]);
    expect(windowsOf({ fixed: { length: 1000 } }, 2000)).toEqual([{ start: 2000, end: 3000 }]);
    expect(windowsOf({ fixed: { length: 1000 } }, -1)).toEqual([{ start: -1000, end: 0 }]);
  });

  it("sliding: every [k·slide, k·slide + length) covering t, oldest first", () => {
    expect(windowsOf({ sliding: { length: 30, slide: 10 } }, 25)).toEqual([
      { start: 0, end: 30 },
      { start: 10, end: 40 },
      { start: 20, end: 50 },
    ]);
    expect(windowsOf({ sliding: { length: 30, slide: 10 } }, 30)).toEqual([
      { start: 10, end: 40 },
      { start: 20, end: 50 },
      { start: 30, end: 60 },
    ]);
  });

  it("sliding with a length that is no multiple of slide, and slide = length (fixed)", () => {
    expect(windowsOf({ sliding: { length: 25, slide: 10 } }, 24)).toEqual([
      { start: 0, end: 25 },
      { start: 10, end: 35 },
      { start: 20, end: 45 },
    ]);
    expect(windowsOf({ sliding: { length: 25, slide: 10 } }, 25)).toEqual([
      { start: 10, end: 35 },
      { start: 20, end: 45 },
    ]);
    expect(windowsOf({ sliding: { length: 10, slide: 10 } }, -5)).toEqual([{ start: -10, end: 0 }]);
  });

  it("session: the message's own [t, t + timeout)", () => {
    expect(windowsOf({ session: { timeout: 500 } }, 1200)).toEqual([{ start: 1200, end: 1700 }]);
  });

  it("keyed windows take the message's keys; keyed: false takes none", () => {
    expect(windowKeysOf({ keyed: true }, message(["eu", "shop"]))).toEqual(["eu", "shop"]);
    expect(windowKeysOf({ keyed: false }, message(["eu"]))).toEqual([]);
  });

  it("half-open ranges: touching is no overlap (a gap of exactly timeout ends a session)", () => {
    expect(overlaps({ start: 0, end: 10 }, { start: 10, end: 20 })).toBe(false);
    expect(overlaps({ start: 0, end: 11 }, { start: 10, end: 20 })).toBe(true);
    expect(coverOf([{ start: 5, end: 9 }, { start: 0, end: 7 }])).toEqual({ start: 0, end: 9 });
  });
});

describe("window fields and result ids", () => {
  it("a field reads back as its keys and window, keys with colons and brackets too", () => {
    for (const keys of [[], ["eu"], ["a:b", "]["], ['["a","b"]']]) {
      const field = windowField(keys, { start: -20, end: 1000 });
      expect(parseWindowField(field)).toEqual({ keys, start: -20, end: 1000 });
    }
    expect(windowField(["eu"], { start: 1000, end: 2000 })).toBe('1000:2000:["eu"]');
  });

  it("keys are compared as whole lists", () => {
    const fields = [[], ["a"], ["a", "b"], ['["a","b"]']].map((keys) => windowField(keys, { start: 0, end: 1 }));
    expect(new Set(fields).size).toBe(4);
  });

  it("a field that is not one reads as undefined", () => {
    for (const field of ["", "1:2", "a:2:[]", "1:2:{}", "1:2:[1]", "1:2:[x"]) expect(parseWindowField(field)).toBeUndefined();
  });

  it("result ids are a pure function of (vertex, keys, window), with :<i> for the i-th of several", () => {
    expect(resultId("counts", ["eu"], { start: 1000, end: 2000 })).toBe('counts:1000:2000:["eu"]');
    expect(resultId("counts", ["eu"], { start: 1000, end: 2000 }, 2)).toBe('counts:1000:2000:["eu"]:2');
    expect(resultId("counts", [], { start: 1000, end: 2000 })).not.toBe(resultId("other", [], { start: 1000, end: 2000 }));
  });
});

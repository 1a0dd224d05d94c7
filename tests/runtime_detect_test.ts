import { test } from "node:test";
import assert from "node:assert/strict";
import { detectRuntime } from "../src/runtime/detect.ts";

test("detectRuntime() names the runtime running the suite", () => {
  const name = detectRuntime();
  const g = globalThis as unknown as { Deno?: unknown; Bun?: unknown };
  const expected = g.Deno ? "deno" : g.Bun ? "bun" : "node";
  assert.equal(name, expected);
});

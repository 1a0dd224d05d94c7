import { test } from "node:test";
import assert from "node:assert/strict";
import { posix, win32 } from "node:path";
import {
  cleanPath,
  dirname,
  hasPathSeparator,
  isAbsolutePath,
  joinPath,
  resolvePath,
  splitPathList,
} from "../src/kubeconfig/paths.ts";
import { decodeBase64Strict as decodeBase64 } from "../src/tls/base64.ts";

test("POSIX paths: clean, dirname, join and resolve like Go's filepath", () => {
  assert.equal(cleanPath("/a/./b/../c//d/", "posix"), "/a/c/d");
  assert.equal(cleanPath("../../x", "posix"), "../../x");
  assert.equal(cleanPath("/../x", "posix"), "/x");
  assert.equal(cleanPath("", "posix"), ".");
  assert.equal(dirname("/home/jane/.kube/config", "posix"), "/home/jane/.kube");
  assert.equal(dirname("/config", "posix"), "/");
  assert.equal(dirname("config", "posix"), ".");
  assert.equal(
    joinPath(["/home/jane", "./bin/plugin"], "posix"),
    "/home/jane/bin/plugin",
  );
  assert.equal(
    resolvePath("/k/merge/second", "../../certs/a.crt", "posix"),
    "/k/certs/a.crt",
  );
  // Absolute paths are left exactly as written (Go does not clean them).
  assert.equal(resolvePath("/k", "/etc//ca.crt", "posix"), "/etc//ca.crt");
  assert.ok(isAbsolutePath("/x", "posix"));
  assert.ok(!isAbsolutePath("x/y", "posix"));
  assert.ok(!isAbsolutePath("C:\\x", "posix"));
  for (
    const [base, rel] of [["/a/b", "../c/./d"], ["/", "x"], [
      "/a",
      "b/../../..",
    ]]
  ) {
    assert.equal(resolvePath(base, rel, "posix"), posix.resolve(base, rel));
  }
});

test("Windows paths: drives, UNC shares and both separators", () => {
  assert.ok(isAbsolutePath("C:\\Users\\jane", "windows"));
  assert.ok(isAbsolutePath("c:/Users/jane", "windows"));
  assert.ok(isAbsolutePath("\\\\server\\share\\kube", "windows"));
  assert.ok(!isAbsolutePath("certs\\ca.crt", "windows"));
  assert.ok(!isAbsolutePath("C:relative", "windows"));
  assert.equal(cleanPath("C:/a/../b//c", "windows"), "C:\\b\\c");
  assert.equal(
    dirname("C:\\Users\\jane\\.kube\\config", "windows"),
    "C:\\Users\\jane\\.kube",
  );
  assert.equal(dirname("C:\\config", "windows"), "C:\\");
  assert.equal(
    dirname("\\\\server\\share\\config", "windows"),
    "\\\\server\\share\\",
  );
  assert.equal(
    resolvePath("C:\\Users\\jane\\.kube", "..\\certs/ca.crt", "windows"),
    "C:\\Users\\jane\\certs\\ca.crt",
  );
  assert.equal(
    resolvePath("D:\\kube", "\\certs\\ca.crt", "windows"),
    "D:\\certs\\ca.crt",
  );
  assert.equal(
    resolvePath("\\\\srv\\share\\kube", "ca.crt", "windows"),
    "\\\\srv\\share\\kube\\ca.crt",
  );
  for (const [base, rel] of [["C:\\a\\b", "..\\c\\.\\d"], ["C:\\", "x/y"]]) {
    assert.equal(resolvePath(base, rel, "windows"), win32.resolve(base, rel));
  }
});

test("exec commands with a separator are paths; bare names use PATH", () => {
  assert.ok(hasPathSeparator("./bin/plugin", "posix"));
  assert.ok(!hasPathSeparator("bin\\plugin", "posix"));
  assert.ok(hasPathSeparator("bin\\plugin.exe", "windows"));
  assert.ok(hasPathSeparator("bin/plugin.exe", "windows"));
  assert.ok(!hasPathSeparator("gke-gcloud-auth-plugin", "windows"));
});

test("KUBECONFIG lists split on ':' (POSIX) or ';' (Windows, with quotes)", () => {
  assert.deepEqual(splitPathList("", "posix"), []);
  assert.deepEqual(splitPathList("a::b:", "posix"), ["a", "", "b", ""]);
  assert.deepEqual(splitPathList("C:\\a;D:\\b", "windows"), ["C:\\a", "D:\\b"]);
  assert.deepEqual(splitPathList('"C:\\x;y";z', "windows"), ["C:\\x;y", "z"]);
});

test("base64: standard alphabet, padding required, line breaks ignored", () => {
  const text = (b: Uint8Array | null) => b && new TextDecoder().decode(b);
  assert.equal(text(decodeBase64("aGVsbG8=")), "hello");
  assert.equal(text(decodeBase64("aGVs\nbG8=\r\n")), "hello");
  assert.equal(text(decodeBase64("")), "");
  assert.equal(text(decodeBase64("aGk=")), "hi");
  assert.equal(decodeBase64("aGVsbG8"), null); // no padding (Go rejects it)
  assert.equal(decodeBase64("aGVs bG8="), null); // kubectl: illegal base64 data
  assert.equal(decodeBase64("aGVsbG8_"), null); // URL alphabet
  assert.equal(decodeBase64("a=Vs"), null);
  const bytes = new Uint8Array(256).map((_, i) => i);
  const b64 = btoa(String.fromCharCode(...bytes));
  assert.deepEqual(decodeBase64(b64), bytes);
});

// node --test: the editor's idea of where the cursor is, on the notes' layouts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pathAt, topLevel, keyLines } from "../src/yamlpath.js";

const pod = `apiVersion: v1
kind: Pod
metadata:
  name: echo
spec:
  containers:
    - name: app
      image: busybox
      ports:
      - containerPort: 80

---
kind: Service
spec:
  containers:
  - name: b
    ima`;

test("paths under lists in both indent styles", () => {
  const l = pod.split("\n");
  assert.deepEqual(pathAt(l, 4, 0), []);
  assert.deepEqual(pathAt(l, 5, 2), ["spec"]);
  assert.deepEqual(pathAt(l, 7, 6), ["spec", "containers", "[]"]);
  assert.deepEqual(pathAt(l, 6, 6), ["spec", "containers", "[]"]);
  assert.deepEqual(pathAt(l, 9, 8), ["spec", "containers", "[]", "ports", "[]"]);
  assert.deepEqual(pathAt(l, 16, 4), ["spec", "containers", "[]"]);
});

test("apiVersion and kind of the document at a line", () => {
  const l = pod.split("\n");
  assert.deepEqual(topLevel(l, 5), { apiVersion: "v1", kind: "Pod" });
  assert.deepEqual(topLevel(l, 15), { kind: "Service" });
});

test("keys of a block scalar's text are not keys", () => {
  const l = ["data:", "  conf: |", "    a: 1", "    b: 2", "  other: x"];
  assert.deepEqual(keyLines(l, 0, l.length - 1).map((k) => k.key), ["data", "conf", "other"]);
});

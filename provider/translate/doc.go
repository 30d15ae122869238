// Package translate holds the pure pod ↔ function mapping: a pod becomes a
// cloud-neutral Function (or a refusal naming the pod field), and a
// function's state becomes the pod status a kubelet would report. Nothing
// here performs I/O; every function is tested with golden files
// (testdata/*.input.yaml → *.output.yaml, rewritten with -update).
package translate

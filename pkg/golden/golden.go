package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite golden files instead of comparing with them")

// Check compares got with the file at path, or writes it there under -update.
func Check(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update, or make update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s is out of date; run with -update if the change is intended.\n--- got\n%s", path, got)
	}
}

// EachPod runs one subtest per testdata/*.input.yaml pod: it decodes the
// pod strictly, calls translate with the input's name (the file name without
// .input.yaml) and compares the YAML of what it returns with the matching
// *.output.yaml.
func EachPod(t *testing.T, translate func(t *testing.T, name string, pod *corev1.Pod) any) {
	t.Helper()
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.input.yaml"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var pod corev1.Pod
			if err := yaml.UnmarshalStrict(data, &pod); err != nil {
				t.Fatal(err)
			}
			got, err := yaml.Marshal(translate(t, name, &pod))
			if err != nil {
				t.Fatal(err)
			}
			Check(t, filepath.Join("testdata", name+".output.yaml"), got)
		})
	}
}

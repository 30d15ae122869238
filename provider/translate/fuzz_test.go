package translate

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// portableName is what every cloud accepts as a function name.
var portableName = regexp.MustCompile(`^fk-[a-z0-9]([a-z0-9-]*[a-z0-9])?-[0-9a-f]{10}$|^fk-[0-9a-f]{10}$|^fk--[0-9a-f]{10}$`)

// FuzzFromPod feeds arbitrary pod YAML to the translation: it must never
// panic, and a pod it accepts must give a portable name and a description
// that reads back to the pod's identity. Seeds: testdata/fuzz/FuzzFromPod
// and the golden inputs.
func FuzzFromPod(f *testing.F) {
	for _, seed := range goldenInputs(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var pod corev1.Pod
		if err := yaml.Unmarshal(data, &pod); err != nil {
			return
		}
		fn, err := FromPod(&pod, "vk-fuzz", map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"})
		if err != nil {
			if !strings.Contains(err.Error(), "spec.") && !strings.Contains(err.Error(), "metadata.") {
				t.Errorf("refusal names no field: %v", err)
			}
			return
		}
		checkName(t, fn.Name)
		owner, ok := ParseDescription(fn.Description)
		if strings.ContainsAny(pod.Namespace+pod.Name+string(pod.UID), " \t\n\r\v\f") || pod.UID == "" {
			return // a description cannot carry these; the API server never sends them
		}
		if len(fn.Description) > MaxDescription {
			t.Errorf("description of %d characters: %q", len(fn.Description), fn.Description)
		}
		if _, cut := owner[TagPodName]; !cut && ok && NamedFor(fn.Name, owner) {
			return // the name was cut to fit; the UID names the function
		}
		if !ok || owner[TagPodUID] != string(pod.UID) || owner[TagPodName] != pod.Name || owner[TagPodNamespace] != pod.Namespace {
			t.Errorf("description %q reads back as %v", fn.Description, owner)
		}
	})
}

// FuzzFunctionName derives names from arbitrary namespaces, names and UIDs:
// always portable, stable for a UID, different for different UIDs.
func FuzzFunctionName(f *testing.F) {
	f.Add("default", "hello", "0f6c1e5a-1111-4a5b-9c3d-000000000001")
	f.Add("", "", "")
	f.Add("a-very-long-namespace-name-that-goes-on-and-on", "pod-with-a-name-that-is-also-very-long-indeed-0123456789", "uid")
	f.Add("UPPER", "ünïcødé", "😀")
	f.Add("---", "...", "-")
	f.Fuzz(func(t *testing.T, ns, name, uid string) {
		pod := &corev1.Pod{}
		pod.Namespace, pod.Name, pod.UID = ns, name, types.UID(uid)
		got := FunctionName(pod)
		checkName(t, got)
		if again := FunctionName(pod.DeepCopy()); again != got {
			t.Errorf("not stable: %q then %q", got, again)
		}
		other := pod.DeepCopy()
		other.UID = types.UID(uid + "x")
		if FunctionName(other) == got {
			t.Errorf("UIDs %q and %q give the same name %q", uid, uid+"x", got)
		}
	})
}

func checkName(t *testing.T, name string) {
	t.Helper()
	if len(name) > 54 || !portableName.MatchString(name) {
		t.Errorf("function name %q is not portable (<= 54 chars, lowercase letters, digits, hyphens, fk- prefix, hash suffix)", name)
	}
}

// goldenInputs are the golden pods, as fuzz seeds.
func goldenInputs(f *testing.F) [][]byte {
	f.Helper()
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.input.yaml"))
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

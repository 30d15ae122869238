package translate

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/faas-kubelet/faas-kubelet/pkg/golden"
)

// fakeSources holds the objects of a test; failing makes every read fail.
type fakeSources struct {
	ConfigMaps []corev1.ConfigMap `json:"configMaps,omitempty"`
	Secrets    []corev1.Secret    `json:"secrets,omitempty"`
	Svcs       []corev1.Service   `json:"services,omitempty"`
	// failing makes every ConfigMap and Secret read fail, failingServices
	// every Service listing.
	failing, failingServices error
}

func (f *fakeSources) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if f.failing != nil {
		return nil, f.failing
	}
	for i := range f.ConfigMaps {
		if c := &f.ConfigMaps[i]; c.Namespace == ns && c.Name == name {
			return c, nil
		}
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f *fakeSources) Secret(ns, name string) (*corev1.Secret, error) {
	if f.failing != nil {
		return nil, f.failing
	}
	for i := range f.Secrets {
		if s := &f.Secrets[i]; s.Namespace == ns && s.Name == name {
			return s, nil
		}
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func (f *fakeSources) Services(ns string) ([]*corev1.Service, error) {
	if f.failingServices != nil {
		return nil, f.failingServices
	}
	var out []*corev1.Service
	for i := range f.Svcs {
		if f.Svcs[i].Namespace == ns {
			out = append(out, &f.Svcs[i])
		}
	}
	return out, nil
}

func envSources() *fakeSources {
	return &fakeSources{
		ConfigMaps: []corev1.ConfigMap{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "app"}, Data: map[string]string{"MODE": "fast", "LEVEL": "3", "1-bad.key": "kept"}},
		},
		Secrets: []corev1.Secret{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}, Data: map[string][]byte{"password": []byte("s3cr3t-value"), "USER": []byte("admin")}},
		},
	}
}

func envPod(env ...corev1.EnvVar) *corev1.Pod {
	no := false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", UID: "uid-1",
			Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"example.com/owner": "team \"a\""}},
		Spec: corev1.PodSpec{
			NodeName: "vk-lambda", ServiceAccountName: "web", EnableServiceLinks: &no,
			Containers: []corev1.Container{{Name: "app", Image: "img", Env: env, Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi"), corev1.ResourceCPU: resource.MustParse("1500m"), "hugepages-2Mi": resource.MustParse("4Mi")},
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi"), corev1.ResourceCPU: resource.MustParse("250m")},
			}}},
		},
	}
}

var envHost = EnvHost{IP: "10.0.0.7", Allocatable: corev1.ResourceList{
	corev1.ResourceCPU: resource.MustParse("1000"), corev1.ResourceMemory: resource.MustParse("10Ti"), corev1.ResourceEphemeralStorage: resource.MustParse("10Gi"),
}}

func field(path string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}
}

func res(name, container, divisor string) *corev1.EnvVarSource {
	s := &corev1.ResourceFieldSelector{Resource: name, ContainerName: container}
	if divisor != "" {
		s.Divisor = resource.MustParse(divisor)
	}
	return &corev1.EnvVarSource{ResourceFieldRef: s}
}

func cmKey(name, key string, optional bool) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &optional}}
}

func secretKey(name, key string, optional bool) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &optional}}
}

func envMap(t *testing.T, pod *corev1.Pod) map[string]string {
	t.Helper()
	c := pod.Spec.Containers[0]
	if len(c.EnvFrom) != 0 {
		t.Fatalf("envFrom left in the resolved pod: %v", c.EnvFrom)
	}
	out := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Fatalf("%s still has valueFrom", e.Name)
		}
		out[e.Name] = e.Value
	}
	return out
}

// TestResolveEnvValueFrom: every field the kubelet resolves for env, one
// variable each.
func TestResolveEnvValueFrom(t *testing.T) {
	cases := []struct {
		name string
		from *corev1.EnvVarSource
		want string
	}{
		{"metadata.name", field("metadata.name"), "web-1"},
		{"metadata.namespace", field("metadata.namespace"), "shop"},
		{"metadata.uid", field("metadata.uid"), "uid-1"},
		{"metadata.labels", field("metadata.labels"), "app=\"web\"\ntier=\"front\""},
		{"metadata.labels['app']", field("metadata.labels['app']"), "web"},
		{"metadata.labels['missing']", field("metadata.labels['missing']"), ""},
		{"metadata.annotations", field("metadata.annotations"), `example.com/owner="team \"a\""`},
		{"metadata.annotations['example.com/owner']", field("metadata.annotations['example.com/owner']"), `team "a"`},
		{"spec.nodeName", field("spec.nodeName"), "vk-lambda"},
		{"spec.serviceAccountName", field("spec.serviceAccountName"), "web"},
		{"status.hostIP", field("status.hostIP"), "10.0.0.7"},
		{"status.hostIPs", field("status.hostIPs"), "10.0.0.7"},
		{"status.podIP", field("status.podIP"), "10.0.0.7"},
		{"status.podIPs", field("status.podIPs"), "10.0.0.7"},
		{"apiVersion defaulted", &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}, "web-1"},
		{"limits.memory", res("limits.memory", "", ""), "536870912"},
		{"limits.memory in Mi", res("limits.memory", "", "1Mi"), "512"},
		{"limits.memory rounded up", res("limits.memory", "", "1G"), "1"},
		{"requests.memory", res("requests.memory", "", "1Mi"), "256"},
		{"limits.cpu rounded up to cores", res("limits.cpu", "", ""), "2"},
		{"limits.cpu in millicores", res("limits.cpu", "", "1m"), "1500"},
		{"requests.cpu", res("requests.cpu", "", "1m"), "250"},
		{"limits.ephemeral-storage unset: the node's allocatable", res("limits.ephemeral-storage", "", "1Mi"), "10240"},
		{"requests.ephemeral-storage unset", res("requests.ephemeral-storage", "", ""), "0"},
		{"limits.hugepages-2Mi", res("limits.hugepages-2Mi", "", "1Mi"), "4"},
		{"requests.hugepages-2Mi unset", res("requests.hugepages-2Mi", "", ""), "0"},
		{"named container", res("limits.memory", "app", "1Mi"), "512"},
		{"configMapKeyRef", cmKey("app", "MODE", false), "fast"},
		{"secretKeyRef", secretKey("db", "password", false), "s3cr3t-value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := envPod(corev1.EnvVar{Name: "V", ValueFrom: tc.from})
			got, err := ResolveEnv(pod, envHost, envSources())
			if err != nil {
				t.Fatal(err)
			}
			if v := envMap(t, got)["V"]; v != tc.want {
				t.Errorf("V = %q, want %q", v, tc.want)
			}
		})
	}
}

func TestResolveEnvUnsetLimitIsAllocatable(t *testing.T) {
	pod := envPod(corev1.EnvVar{Name: "MEM", ValueFrom: res("limits.memory", "", "1Gi")}, corev1.EnvVar{Name: "CPU", ValueFrom: res("limits.cpu", "", "")})
	pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
	got, err := ResolveEnv(pod, envHost, nil)
	if err != nil {
		t.Fatal(err)
	}
	if env := envMap(t, got); env["MEM"] != "10240" || env["CPU"] != "1000" {
		t.Errorf("env = %v, want the node's allocatable (MEM=10240 CPU=1000)", env)
	}
	// Pod-level limits come before the node's.
	pod.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}}
	got, err = ResolveEnv(pod, envHost, nil)
	if err != nil {
		t.Fatal(err)
	}
	if env := envMap(t, got); env["MEM"] != "2" || env["CPU"] != "1000" {
		t.Errorf("env = %v, want the pod's memory limit (MEM=2) and the node's cpu", env)
	}
}

// TestResolveEnvExpansion follows Kubernetes' expansion tests
// (third_party/forked/golang/expansion/expand_test.go).
func TestResolveEnvExpansion(t *testing.T) {
	vars := map[string]string{"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	for in, want := range map[string]string{
		"":                          "",
		"$(VAR_A)":                  "A",
		"___$(VAR_B)___":            "___B___",
		"$(VAR_A)-$(VAR_A)":         "A-A",
		"$(VAR_A)$(VAR_B)$(VAR_C)":  "ABC",
		"$(VAR_EMPTY)x":             "x",
		"$(VAR_REF)":                "$(VAR_A)", // values are not expanded again
		"$$(VAR_A)":                 "$(VAR_A)",
		"$$$(VAR_A)":                "$A",
		"$$$$(VAR_A)":               "$$(VAR_A)",
		"$(UNKNOWN)":                "$(UNKNOWN)",
		"$()":                       "$()",
		"$(VAR_A":                   "$(VAR_A",
		"$(VAR_A)$(":                "A$(",
		"$":                         "$",
		"foo$":                      "foo$",
		"$VAR_A":                    "$VAR_A",
		"f00__(VAR_A)__":            "f00__(VAR_A)__",
		"$?_boo_$!":                 "$?_boo_$!",
		"$$":                        "$",
		"$(VAR_A)$$(VAR_B)$(VAR_C)": "A$(VAR_B)C",
		"$(FOO$(VAR_A))":            "$(FOO$(VAR_A))", // the reference is "FOO$(VAR_A", unknown
	} {
		if got := Expand(in, lookup); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolveEnvOrderAndSources(t *testing.T) {
	yes := true
	pod := envPod(
		corev1.EnvVar{Name: "FIRST", Value: "$(SECOND)-$(cfg_MODE)-$(USER)"}, // SECOND is declared later: kept as written
		corev1.EnvVar{Name: "SECOND", Value: "two"},
		corev1.EnvVar{Name: "THIRD", Value: "$(SECOND)/$(KUBERNETES_SERVICE_HOST)/$$(SECOND)"},
		corev1.EnvVar{Name: "cfg_LEVEL", Value: "override"},
		corev1.EnvVar{Name: "OPT", ValueFrom: cmKey("nope", "x", true)},
		corev1.EnvVar{Name: "OPT_KEY", ValueFrom: secretKey("db", "nope", true)},
		corev1.EnvVar{Name: "EMPTY"},
	)
	pod.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{
		{Prefix: "cfg_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}},
		{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}},
		{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: &yes}},
	}
	src := envSources()
	src.Svcs = []corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.9", Ports: []corev1.ServicePort{{Port: 80}}}},
	}
	before := pod.DeepCopy()
	got, err := ResolveEnv(pod, envHost, src)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pod, before) {
		t.Error("ResolveEnv changed the pod it was given")
	}
	want := map[string]string{
		"FIRST": "$(SECOND)-fast-admin", "SECOND": "two", "THIRD": "two/10.96.0.1/$(SECOND)",
		"cfg_MODE": "fast", "cfg_LEVEL": "override", "cfg_1-bad.key": "kept",
		"password": "s3cr3t-value", "USER": "admin", "EMPTY": "",
		// enableServiceLinks is false: the kubernetes Service's only.
		"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "KUBERNETES_SERVICE_PORT_HTTPS": "443",
		"KUBERNETES_PORT": "tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO": "tcp", "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
	}
	if env := envMap(t, got); !reflect.DeepEqual(env, want) {
		t.Errorf("env =\n%v\nwant\n%v", env, want)
	}
	names := []string{}
	for _, e := range got.Spec.Containers[0].Env {
		names = append(names, e.Name)
	}
	if !sortedStrings(names) {
		t.Errorf("env not sorted by name: %v", names)
	}
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

// TestResolveEnvServiceLinks: the Service variables are set aside by the
// translation as Function.ServiceLinks, as before.
func TestResolveEnvServiceLinks(t *testing.T) {
	pod := envPod(corev1.EnvVar{Name: "CART_SERVICE_HOST", Value: "mine"})
	pod.Spec.EnableServiceLinks = nil // the default: true
	src := envSources()
	src.Svcs = []corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "other"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.2", Ports: []corev1.ServicePort{{Port: 80}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cart"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.9", Ports: []corev1.ServicePort{{Name: "web", Port: 80}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "headless"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Port: 80}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "v6-svc"}, Spec: corev1.ServiceSpec{ClusterIP: "fd00::5", Ports: []corev1.ServicePort{{Port: 8080}}}},
	}
	got, err := ResolveEnv(pod, envHost, src)
	if err != nil {
		t.Fatal(err)
	}
	env := envMap(t, got)
	for k, want := range map[string]string{
		"CART_SERVICE_HOST": "mine", // the pod's own wins
		"CART_SERVICE_PORT": "80", "CART_SERVICE_PORT_WEB": "80", "CART_SERVICE_PORT_DNS": "53",
		"CART_PORT": "tcp://10.96.0.9:80", "CART_PORT_53_UDP": "udp://10.96.0.9:53", "CART_PORT_53_UDP_PROTO": "udp",
		"V6_SVC_SERVICE_HOST": "fd00::5", "V6_SVC_PORT": "tcp://[fd00::5]:8080",
		"KUBERNETES_SERVICE_HOST": "10.96.0.1",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	for _, k := range []string{"OTHER_SERVICE_HOST", "HEADLESS_SERVICE_HOST"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s set: another namespace's Service, or one without a cluster IP", k)
		}
	}
	fn, err := FromPod(got, "vk", nil)
	if err != nil {
		t.Fatal(err)
	}
	if fn.Env["CART_SERVICE_HOST"] != "mine" || fn.ServiceLinks["CART_PORT_53_UDP_ADDR"] != "10.96.0.9" || fn.ServiceLinks["KUBERNETES_SERVICE_HOST"] != "10.96.0.1" {
		t.Errorf("translation: env %v, links %v", fn.Env, fn.ServiceLinks)
	}
	if _, ok := fn.Env["CART_PORT"]; ok {
		t.Error("a Service link is in the function's own env")
	}
}

func TestResolveEnvErrors(t *testing.T) {
	no := false
	cases := []struct {
		name     string
		env      []corev1.EnvVar
		envFrom  []corev1.EnvFromSource
		src      *fakeSources
		want     string
		notFound bool
	}{
		{name: "missing configmap", env: []corev1.EnvVar{{Name: "A", Value: "a"}, {Name: "B", Value: "b"}, {Name: "C", ValueFrom: cmKey("x", "k", false)}},
			want: `spec.containers[0].env[2].valueFrom.configMapKeyRef: configmap "x" not found`, notFound: true},
		{name: "missing configmap key", env: []corev1.EnvVar{{Name: "C", ValueFrom: cmKey("app", "nope", false)}},
			want: `spec.containers[0].env[0].valueFrom.configMapKeyRef: couldn't find key nope in ConfigMap shop/app`},
		{name: "missing secret", env: []corev1.EnvVar{{Name: "C", ValueFrom: secretKey("gone", "k", false)}},
			want: `spec.containers[0].env[0].valueFrom.secretKeyRef: secret "gone" not found`, notFound: true},
		{name: "missing secret key", env: []corev1.EnvVar{{Name: "C", ValueFrom: secretKey("db", "nope", false)}},
			want: `spec.containers[0].env[0].valueFrom.secretKeyRef: couldn't find key nope in Secret shop/db`},
		{name: "missing envFrom configmap", envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}, Optional: &no}}},
			want: `spec.containers[0].envFrom[0].configMapRef: configmap "x" not found`, notFound: true},
		{name: "missing envFrom secret", envFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}, {SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}}},
			want: `spec.containers[0].envFrom[1].secretRef: secret "x" not found`, notFound: true},
		{name: "unreadable", env: []corev1.EnvVar{{Name: "C", ValueFrom: secretKey("db", "password", false)}}, src: &fakeSources{failing: errors.New("cache stopped")},
			want: `spec.containers[0].env[0].valueFrom.secretKeyRef: reading secret "db": cache stopped`},
		{name: "unreadable optional", env: []corev1.EnvVar{{Name: "C", ValueFrom: cmKey("app", "MODE", true)}}, src: &fakeSources{failing: errors.New("cache stopped")},
			want: `spec.containers[0].env[0].valueFrom.configMapKeyRef: reading configmap "app": cache stopped`},
		{name: "services unreadable", src: &fakeSources{failingServices: errors.New("cache stopped")},
			want: `spec.enableServiceLinks: listing services: cache stopped`},
		{name: "unsupported field", env: []corev1.EnvVar{{Name: "C", ValueFrom: field("spec.restartPolicy")}},
			want: `spec.containers[0].env[0].valueFrom.fieldRef: unsupported fieldPath: spec.restartPolicy`},
		{name: "unknown field", env: []corev1.EnvVar{{Name: "C", ValueFrom: field("spec.nope")}},
			want: `spec.containers[0].env[0].valueFrom.fieldRef: field label not supported: spec.nope`},
		{name: "subscript of a field without keys", env: []corev1.EnvVar{{Name: "C", ValueFrom: field("metadata.name['x']")}},
			want: `spec.containers[0].env[0].valueFrom.fieldRef: field label does not support subscript: metadata.name['x']`},
		{name: "invalid label key", env: []corev1.EnvVar{{Name: "C", ValueFrom: field("metadata.labels['-x']")}},
			want: `spec.containers[0].env[0].valueFrom.fieldRef: invalid key subscript in metadata.labels['-x']`},
		{name: "api version", env: []corev1.EnvVar{{Name: "C", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v2", FieldPath: "metadata.name"}}}},
			want: `spec.containers[0].env[0].valueFrom.fieldRef: unsupported pod version: v2`},
		{name: "unknown container", env: []corev1.EnvVar{{Name: "C", ValueFrom: res("limits.memory", "sidecar", "")}},
			want: `spec.containers[0].env[0].valueFrom.resourceFieldRef: container sidecar not found`},
		{name: "unsupported resource", env: []corev1.EnvVar{{Name: "C", ValueFrom: res("limits.nvidia.com/gpu", "", "")}},
			want: `spec.containers[0].env[0].valueFrom.resourceFieldRef: unsupported container resource : limits.nvidia.com/gpu`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := envPod(tc.env...)
			pod.Spec.Containers[0].EnvFrom = tc.envFrom
			src := tc.src
			if src == nil {
				src = envSources()
			}
			_, err := ResolveEnv(pod, envHost, src)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %s", err, tc.want)
			}
			var envErr *EnvError
			if !errors.As(err, &envErr) {
				t.Errorf("%v is not an *EnvError", err)
			}
			if apierrors.IsNotFound(err) != tc.notFound {
				t.Errorf("IsNotFound(%v) = %v", err, !tc.notFound)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows a secret's value: %v", err)
			}
		})
	}
}

func TestResolveEnvInitContainers(t *testing.T) {
	pod := envPod()
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Env: []corev1.EnvVar{{Name: "C", ValueFrom: cmKey("x", "k", false)}}}}
	_, err := ResolveEnv(pod, envHost, envSources())
	if err == nil || !strings.HasPrefix(err.Error(), `spec.initContainers[0].env[0].valueFrom.configMapKeyRef: configmap "x" not found`) {
		t.Errorf("error = %v", err)
	}
}

// envGolden is one testdata/env case: a pod, the objects its env refers
// to, and the node.
type envGolden struct {
	Pod corev1.Pod `json:"pod"`
	fakeSources
	Host EnvHost `json:"host"`
}

type envGoldenOutput struct {
	Env   map[string][]corev1.EnvVar `json:"env,omitempty"`
	Error string                     `json:"error,omitempty"`
}

// TestGoldenEnv resolves testdata/env/*.input.yaml and compares the
// containers' env with *.output.yaml; run with -update to rewrite them.
func TestGoldenEnv(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "env", "*.input.yaml"))
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
			var g envGolden
			if err := yaml.UnmarshalStrict(data, &g); err != nil {
				t.Fatal(err)
			}
			out := envGoldenOutput{}
			resolved, err := ResolveEnv(&g.Pod, g.Host, &g.fakeSources)
			if err != nil {
				out.Error = err.Error()
			} else {
				out.Env = map[string][]corev1.EnvVar{}
				for _, c := range resolved.Spec.Containers {
					out.Env[c.Name] = c.Env
				}
			}
			got, err := yaml.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "env", name+".output.yaml"), got)
		})
	}
}

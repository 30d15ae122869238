//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const ecrImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:1"

// Pods Lambda cannot run fail with a reason naming the field, and an event;
// a good pod next to them runs, with its Secret-backed env in the function.
func TestLambdaInvalidPodsFailNamingTheField(t *testing.T) {
	emu := startEmulator(t)
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)
	mustKubectl(t, "create", "secret", "generic", "db", "-n", ns, "--from-literal=password=s3cr3t-value")

	bad := map[string]struct{ spec, want string }{
		"non-ecr":        {"  containers:\n  - {name: a, image: docker.io/library/nginx:1}\n", "spec.containers[0].image"},
		"too-big":        {"  containers:\n  - name: a\n    image: " + ecrImage + "\n    resources: {limits: {memory: 20Gi}}\n", "spec.containers[0].resources.limits.memory"},
		"two-containers": {"  containers:\n  - {name: a, image: " + ecrImage + "}\n  - {name: b, image: " + ecrImage + "}\n", "spec.containers"},
		"host-path":      {"  volumes:\n  - {name: data, hostPath: {path: /var}}\n  containers:\n  - name: a\n    image: " + ecrImage + "\n    volumeMounts: [{name: data, mountPath: /data}]\n", "spec.volumes[0].hostPath"},
	}
	names := make([]string, 0, len(bad))
	for name, b := range bad {
		applyYAML(t, ns, fmt.Sprintf(podTemplate, name, b.spec))
		names = append(names, name)
	}
	sort.Strings(names)
	applyYAML(t, ns, fmt.Sprintf(podTemplate, "good", "  containers:\n  - name: a\n    image: "+ecrImage+"\n    env:\n    - name: DB_PASSWORD\n      valueFrom: {secretKeyRef: {name: db, key: password}}\n"))

	pods := cluster.client.CoreV1().Pods(ns)
	for _, name := range names {
		want := bad[name].want
		eventually(t, 60*time.Second, "pod "+name+" Failed naming "+want, func() (bool, string) {
			p, err := pods.Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "InvalidSpec" && strings.Contains(p.Status.Message, want),
				fmt.Sprintf("phase=%s reason=%s message=%q", p.Status.Phase, p.Status.Reason, p.Status.Message)
		})
	}
	eventually(t, 60*time.Second, "the good pod Running", func() (bool, string) {
		p, err := pods.Get(context.Background(), "good", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == corev1.PodRunning, string(p.Status.Phase)
	})
	events := mustKubectl(t, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=non-ecr,reason=InvalidSpec")
	if !strings.Contains(events, "spec.containers[0].image") {
		t.Errorf("no InvalidSpec event naming the field for non-ecr:\n%s", events)
	}
	if len(emu.functions(t)) != 1 {
		t.Errorf("functions = %v, want only the good pod's", emu.functions(t))
	}
	good, _ := pods.Get(context.Background(), "good", metav1.GetOptions{})
	cfg, err := emu.lambda.GetFunctionConfiguration(context.Background(), &sdk.GetFunctionConfigurationInput{FunctionName: aws.String(functionNameOf(good))})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Environment == nil || cfg.Environment.Variables["DB_PASSWORD"] != "s3cr3t-value" {
		t.Errorf("function environment = %+v, want DB_PASSWORD from the Secret", cfg.Environment)
	}
	logs, _ := readFile(k.logFile)
	if strings.Contains(logs, "s3cr3t-value") {
		t.Error("the Secret's value appears in faas-kubelet's log")
	}
}

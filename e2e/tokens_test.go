//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// A function that opts in gets a ServiceAccount token bound to its pod, the
// API server's URL and CA in its environment; a client built from them
// authenticates as the pod's ServiceAccount, with the pod's name and UID in
// its identity, may do what the ServiceAccount's Role grants and no more,
// and the token stops working once the pod is deleted.
func TestServiceAccountTokenAuthenticates(t *testing.T) {
	admin, err := clientcmd.BuildConfigFromFlags("", cluster.env["KUBECONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			c.startWith(t, fmt.Sprintf("  serviceAccountTokens: {apiServer: %q}\n", admin.Host))
			ns := namespace(t)
			applyYAML(t, ns, `apiVersion: v1
kind: ServiceAccount
metadata: {name: reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader}
subjects: [{kind: ServiceAccount, name: reader}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
`)
			applyYAML(t, ns, `apiVersion: v1
kind: Pod
metadata:
  name: caller
  annotations: {faas-kubelet.io/service-account-token: "true"}
spec:
  serviceAccountName: reader
  terminationGracePeriodSeconds: 2
  nodeSelector: {type: virtual-kubelet}
  tolerations:
  - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
  containers:
  - name: a
    image: `+c.image+"\n")
			var uid string
			eventually(t, 60*time.Second, "pod caller Running", func() (bool, string) {
				p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "caller", metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				uid = string(p.UID)
				return p.Status.Phase == "Running", string(p.Status.Phase) + " " + fmt.Sprint(p.Status.ContainerStatuses)
			})
			env := envOf(t, ns, "caller")
			token := env["KUBERNETES_TOKEN"]
			if len(token) < 100 || strings.Count(token, ".") != 2 {
				t.Fatalf("KUBERNETES_TOKEN has %d characters, want a JWT", len(token))
			}
			if env["KUBERNETES_API_SERVER"] != admin.Host {
				t.Errorf("KUBERNETES_API_SERVER = %q, want %q", env["KUBERNETES_API_SERVER"], admin.Host)
			}
			ca, err := base64.StdEncoding.DecodeString(env["KUBERNETES_CA_DATA"])
			if err != nil || !strings.Contains(string(ca), "BEGIN CERTIFICATE") {
				t.Fatalf("KUBERNETES_CA_DATA does not decode to a CA (%v)", err)
			}

			fn, err := kubernetes.NewForConfig(&rest.Config{Host: env["KUBERNETES_API_SERVER"], BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			review, err := fn.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("the function's token does not authenticate: %v", err)
			}
			u := review.Status.UserInfo
			if u.Username != "system:serviceaccount:"+ns+":reader" {
				t.Errorf("the token authenticates as %q, want the pod's ServiceAccount", u.Username)
			}
			if got := u.Extra["authentication.kubernetes.io/pod-name"]; len(got) != 1 || got[0] != "caller" {
				t.Errorf("the token's pod-name is %v, want it bound to pod caller", got)
			}
			if got := u.Extra["authentication.kubernetes.io/pod-uid"]; len(got) != 1 || got[0] != uid {
				t.Errorf("the token's pod-uid is %v, want %s", got, uid)
			}
			if _, err := fn.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil {
				t.Errorf("listing pods as the ServiceAccount the Role allows: %v", err)
			}
			if _, err := fn.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{}); err == nil {
				t.Errorf("listing kube-system's pods succeeded; the ServiceAccount may not")
			}

			if err := cluster.client.CoreV1().Pods(ns).Delete(ctx, "caller", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			eventually(t, 60*time.Second, "the token to stop working once its pod is gone", func() (bool, string) {
				_, err := fn.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
				return err != nil && strings.Contains(err.Error(), "Unauthorized"), fmt.Sprint(err)
			})
		})
	}
}

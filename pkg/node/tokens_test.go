package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
)

func rootCAs(t *testing.T, cms ...*corev1.ConfigMap) corev1listers.ConfigMapLister {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, cm := range cms {
		if err := idx.Add(cm); err != nil {
			t.Fatal(err)
		}
	}
	return corev1listers.NewConfigMapLister(idx)
}

func TestTokenCAIsTheNamespacesRootCAOrTheConfiguredFile(t *testing.T) {
	lister := rootCAs(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "kube-root-ca.crt"}, Data: map[string]string{"ca.crt": "CLUSTER CA"}})
	ca := tokenCA("", lister)
	if got, err := ca("shop"); err != nil || string(got) != "CLUSTER CA" {
		t.Errorf("CA of shop = %q, %v", got, err)
	}
	if _, err := ca("empty"); err == nil || !strings.Contains(err.Error(), "empty/kube-root-ca.crt does not exist") {
		t.Errorf("CA of a namespace without kube-root-ca.crt: %v", err)
	}
	file := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(file, []byte("PUBLIC ENDPOINT CA"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := tokenCA(file, lister)("shop"); err != nil || string(got) != "PUBLIC ENDPOINT CA" {
		t.Errorf("CA from the file = %q, %v", got, err)
	}
	if _, err := tokenCA(filepath.Join(t.TempDir(), "missing"), lister)("shop"); err == nil || !strings.Contains(err.Error(), "serviceAccountTokens.caFile") {
		t.Errorf("a missing CA file: %v", err)
	}
}

func TestServiceAccountTokensOnlyWhenConfigured(t *testing.T) {
	client := fake.NewClientset()
	if got := serviceAccountTokens(client, &config.Node{}, rootCAs(t)); got != nil {
		t.Errorf("tokens without serviceAccountTokens in the config: %+v", got)
	}
	got := serviceAccountTokens(client, &config.Node{ServiceAccountTokens: &config.ServiceAccountTokens{APIServer: "https://k8s.example.com"}}, rootCAs(t))
	if got == nil || got.APIServer != "https://k8s.example.com" || got.Client == nil || got.CA == nil {
		t.Errorf("tokens = %+v", got)
	}
}

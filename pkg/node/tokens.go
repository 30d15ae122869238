package node

import (
	"errors"
	"fmt"
	"os"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
	"github.com/faas-kubelet/faas-kubelet/provider"
)

// rootCAConfigMap is the ConfigMap the root CA publisher writes in every
// namespace, and its key: the CA the kubelet mounts as ca.crt next to a
// pod's ServiceAccount token.
const (
	rootCAConfigMap = "kube-root-ca.crt"
	rootCAKey       = "ca.crt"
)

// serviceAccountTokens is what the core needs to give functions their
// ServiceAccount tokens (TokenRequest through the node's client), or nil
// when the node's config gives them none.
func serviceAccountTokens(client kubernetes.Interface, c *config.Node, configMaps corev1listers.ConfigMapLister) *provider.ServiceAccountTokens {
	t := c.ServiceAccountTokens
	if t == nil {
		return nil
	}
	return &provider.ServiceAccountTokens{
		Client:    client.CoreV1(),
		APIServer: t.APIServer,
		CA:        tokenCA(t.CAFile, configMaps),
	}
}

// tokenCA returns the CA bundle for a pod of a namespace: the configured
// file (read each time, so that a rotated file is taken), else the
// cluster's CA as the namespace's kube-root-ca.crt has it.
func tokenCA(file string, configMaps corev1listers.ConfigMapLister) func(namespace string) ([]byte, error) {
	if file != "" {
		return func(string) ([]byte, error) {
			data, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("reading serviceAccountTokens.caFile: %w", err)
			}
			if len(data) == 0 {
				return nil, fmt.Errorf("serviceAccountTokens.caFile %s is empty", file)
			}
			return data, nil
		}
	}
	return func(namespace string) ([]byte, error) {
		cm, err := configMaps.ConfigMaps(namespace).Get(rootCAConfigMap)
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("ConfigMap %s/%s does not exist (the root CA publisher writes it)", namespace, rootCAConfigMap)
		}
		if err != nil {
			return nil, err
		}
		if cm.Data[rootCAKey] == "" {
			return nil, errors.New("ConfigMap " + namespace + "/" + rootCAConfigMap + " has no " + rootCAKey)
		}
		return []byte(cm.Data[rootCAKey]), nil
	}
}

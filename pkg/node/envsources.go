package node

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1listers "k8s.io/client-go/listers/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// envSources are the node's caches of the objects pods' env refers to,
// for the core's resolution of env (translate.ResolveEnv). The pod
// controller starts only once they have synced (see virtualNode.run), so
// that a missing object is one the API server does not have.
type envSources struct {
	configMaps corev1listers.ConfigMapLister
	secrets    corev1listers.SecretLister
	services   corev1listers.ServiceLister
}

var _ translate.EnvSources = envSources{}

func newEnvSources(i *nodeInformers) envSources {
	return envSources{configMaps: i.configMaps.Lister(), secrets: i.secrets.Lister(), services: i.services.Lister()}
}

func (e envSources) ConfigMap(namespace, name string) (*corev1.ConfigMap, error) {
	return e.configMaps.ConfigMaps(namespace).Get(name)
}

func (e envSources) Secret(namespace, name string) (*corev1.Secret, error) {
	return e.secrets.Secrets(namespace).Get(name)
}

func (e envSources) Services(namespace string) ([]*corev1.Service, error) {
	return e.services.Services(namespace).List(labels.Everything())
}

package translate

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Admission webhooks and Kubernetes itself add volumes and variables to
// pods that a function has no use for: the ServiceAccount token volume
// (kube-api-access-*), the workload identity token volumes of EKS (IRSA's
// aws-iam-token, Pod Identity's eks-pod-identity-token), Azure
// (azure-identity-token) and ACK (RRSA), with the variables that point at
// them, and one set of variables per Service of the namespace. Refusing
// such pods would refuse every pod of a namespace with a webhook, so they
// are dropped, each kind with a note. A function gets its cloud identity
// from the cloud (the role annotations), not from a projected token.

// A pod that opts in gets its ServiceAccount's token after all, not as
// files (a function has none the kubelet could mount) but in its
// environment: the core requests it (TokenRequest, bound to the pod) and
// sets the variables below; see ServiceAccountToken.

// AnnotationServiceAccountToken set to "true" asks for the pod's
// ServiceAccount token in the function's environment.
const AnnotationServiceAccountToken = "faas-kubelet.io/service-account-token"

// The variables a function that opted in is given. No Kubernetes client
// reads them by itself: in-cluster configuration expects files and the
// cluster's service IP, which a function has not.
const (
	// EnvKubernetesToken holds the ServiceAccount token (a JWT).
	EnvKubernetesToken = "KUBERNETES_TOKEN"
	// EnvKubernetesCAData holds the CA bundle that verifies the API
	// server's certificate, PEM encoded then base64 (as a kubeconfig's
	// certificate-authority-data).
	EnvKubernetesCAData = "KUBERNETES_CA_DATA"
	// EnvKubernetesAPIServer holds the API server's URL as functions reach
	// it (the node's serviceAccountTokens.apiServer).
	EnvKubernetesAPIServer = "KUBERNETES_API_SERVER"
)

// Token lifetimes, as the kubelet and the API server have them.
const (
	// DefaultTokenExpirationSeconds is the lifetime asked for when the pod
	// names none.
	DefaultTokenExpirationSeconds int64 = 3600
	// MinTokenExpirationSeconds is the shortest lifetime TokenRequest
	// accepts.
	MinTokenExpirationSeconds int64 = 600
	// admissionTokenExpirationSeconds is what the ServiceAccount admission
	// plugin writes in kube-api-access-*: the API server may extend a token
	// asked for with it to a year, which a token kept in a cloud's
	// function configuration must not be.
	admissionTokenExpirationSeconds int64 = 3607
)

// identityAudiences are the audiences of the workload identity webhooks'
// tokens (EKS IRSA and Pod Identity, Azure workload identity, ACK RRSA):
// tokens for a cloud's STS, not for the API server.
var identityAudiences = map[string]bool{
	"sts.amazonaws.com": true, "pods.eks.amazonaws.com": true,
	"api://AzureADTokenExchange": true, "sts.aliyuncs.com": true,
}

// TokenSpec is the ServiceAccount token a pod asks for.
type TokenSpec struct {
	// ServiceAccount is the pod's ServiceAccount ("default" when unset).
	ServiceAccount string
	// Audience is the one the pod's projected serviceAccountToken source
	// names; empty: the API server's own.
	Audience string
	// ExpirationSeconds is the lifetime asked for (at least
	// MinTokenExpirationSeconds).
	ExpirationSeconds int64
}

// ServiceAccountToken says whether the pod opted in to its ServiceAccount
// token (the annotation, or spec.automountServiceAccountToken set to true
// on the pod itself: the API server never defaults it) and what token it
// asks for. A pod that sets automountServiceAccountToken to false gets
// none whatever its annotations say, as the kubelet mounts none.
// Audience and lifetime come from the pod's projected serviceAccountToken
// source, as the kubelet takes them: the first that names an audience,
// else the first, of those that are not a workload identity webhook's
// (which carry a cloud STS's audience). The lifetime the ServiceAccount
// admission plugin writes (3607 s) is not the pod's choice: the default
// is asked for instead.
func ServiceAccountToken(pod *corev1.Pod) (TokenSpec, bool) {
	auto := pod.Spec.AutomountServiceAccountToken
	if auto != nil && !*auto {
		return TokenSpec{}, false
	}
	if pod.Annotations[AnnotationServiceAccountToken] != "true" && auto == nil {
		return TokenSpec{}, false
	}
	spec := TokenSpec{ServiceAccount: pod.Spec.ServiceAccountName, ExpirationSeconds: DefaultTokenExpirationSeconds}
	if spec.ServiceAccount == "" {
		spec.ServiceAccount = "default"
	}
	if _, source := tokenSource(pod); source != nil {
		spec.Audience = source.Audience
		if e := source.ExpirationSeconds; e != nil && *e != admissionTokenExpirationSeconds {
			spec.ExpirationSeconds = max(*e, MinTokenExpirationSeconds)
		}
	}
	return spec, true
}

// tokenSource is the pod's own projected serviceAccountToken source and
// its volume: the first that names an audience, else the first, of those
// that are not a workload identity webhook's.
func tokenSource(pod *corev1.Pod) (string, *corev1.ServiceAccountTokenProjection) {
	var (
		volume string
		source *corev1.ServiceAccountTokenProjection
	)
	for _, v := range pod.Spec.Volumes {
		if !isTokenVolume(v) {
			continue
		}
		for _, s := range v.Projected.Sources {
			t := s.ServiceAccountToken
			if t == nil || identityAudiences[t.Audience] {
				continue
			}
			if source == nil || source.Audience == "" && t.Audience != "" {
				volume, source = v.Name, t
			}
		}
	}
	return volume, source
}

// isTokenVolume says whether v is a projected volume of ServiceAccount
// tokens only (with the cluster's CA bundle and the namespace, as the
// ServiceAccount admission plugin adds them): what identity webhooks
// inject, whatever they name it.
func isTokenVolume(v corev1.Volume) bool {
	if v.Projected == nil {
		return false
	}
	if strings.HasPrefix(v.Name, "kube-api-access-") {
		return true // the ServiceAccount admission plugin's own
	}
	token := false
	for _, s := range v.Projected.Sources {
		switch {
		case s.ServiceAccountToken != nil:
			token = true
		case s.ConfigMap != nil && s.ConfigMap.Name == "kube-root-ca.crt":
		case s.DownwardAPI != nil:
		default:
			return false
		}
	}
	return token
}

// identityEnv are the variables identity webhooks set next to their token
// volume (EKS IRSA and Pod Identity, Azure workload identity, ACK RRSA).
// Some are reserved on the clouds (Lambda refuses AWS_REGION), and all
// point at a token a function does not have.
var identityEnv = map[string]bool{
	"AWS_ROLE_ARN": true, "AWS_WEB_IDENTITY_TOKEN_FILE": true, "AWS_STS_REGIONAL_ENDPOINTS": true,
	"AWS_REGION": true, "AWS_DEFAULT_REGION": true,
	"AWS_CONTAINER_CREDENTIALS_FULL_URI": true, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": true,
	"AZURE_CLIENT_ID": true, "AZURE_TENANT_ID": true, "AZURE_FEDERATED_TOKEN_FILE": true, "AZURE_AUTHORITY_HOST": true,
	"ALIBABA_CLOUD_ROLE_ARN": true, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": true, "ALIBABA_CLOUD_OIDC_TOKEN_FILE": true,
}

// tokenVolumes returns the names and mount paths of the pod's injected
// token volumes other than the ServiceAccount's own (kube-api-access-*,
// and the one whose token a pod that opted in is given).
func tokenVolumes(pod *corev1.Pod) (names []string, mounts []string) {
	injected := map[string]bool{}
	own := ownTokenVolume(pod)
	for _, v := range pod.Spec.Volumes {
		if isTokenVolume(v) && !strings.HasPrefix(v.Name, "kube-api-access-") && v.Name != own {
			injected[v.Name] = true
			names = append(names, v.Name)
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if injected[m.Name] {
				mounts = append(mounts, m.MountPath)
			}
		}
	}
	return names, mounts
}

// ownTokenVolume is the volume of the token a pod that opted in is given
// instead (see ServiceAccountToken); "" for any other pod.
func ownTokenVolume(pod *corev1.Pod) string {
	if _, ok := ServiceAccountToken(pod); !ok {
		return ""
	}
	v, _ := tokenSource(pod)
	return v
}

// ownTokenNote says what became of the token volume of a pod that opted
// in and the variables that point into it.
func ownTokenNote(pod *corev1.Pod, c *corev1.Container, env map[string]string) (string, []string) {
	own := ownTokenVolume(pod)
	if own == "" || strings.HasPrefix(own, "kube-api-access-") {
		return "", nil
	}
	var mounts, dropped []string
	for _, m := range c.VolumeMounts {
		if m.Name == own {
			mounts = append(mounts, m.MountPath)
		}
	}
	for k, v := range env {
		if pointsInto(v, mounts) {
			dropped = append(dropped, k)
		}
	}
	sort.Strings(dropped)
	note := fmt.Sprintf("volume %s is not mounted (a function has no files): the token is given in %s, when the node gives tokens", own, EnvKubernetesToken)
	if len(dropped) > 0 {
		note += "; the variables that point into it (" + strings.Join(dropped, ", ") + ") are left out"
	}
	return note, dropped
}

// splitEnv sorts the container's variables into the function's own, the
// Service links, and those dropped with the identity token volumes, with
// the notes that say what was dropped.
func splitEnv(pod *corev1.Pod, c *corev1.Container) (env, links map[string]string, notes []string) {
	volumes, mounts := tokenVolumes(pod)
	links = map[string]string{}
	var dropped []string
	serviceLinks := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	for _, e := range c.Env {
		switch {
		case len(volumes) > 0 && (identityEnv[e.Name] || pointsInto(e.Value, mounts)):
			dropped = append(dropped, e.Name)
		case serviceLinks && IsServiceLink(e.Name, e.Value):
			links[e.Name] = e.Value
		default:
			if env == nil {
				env = map[string]string{}
			}
			env[e.Name] = e.Value
		}
	}
	if len(volumes) > 0 {
		sort.Strings(dropped)
		note := fmt.Sprintf("volumes %s (workload identity tokens added by an admission webhook) are not mounted: the function takes its identity from the cloud", strings.Join(volumes, ", "))
		if len(dropped) > 0 {
			note += "; their variables " + strings.Join(dropped, ", ") + " are left out"
		}
		notes = append(notes, note)
	}
	if note, dropped := ownTokenNote(pod, c, env); note != "" {
		for _, k := range dropped {
			delete(env, k)
		}
		notes = append(notes, note)
	}
	if len(links) == 0 {
		links = nil
	}
	return env, links, notes
}

func pointsInto(value string, mounts []string) bool {
	for _, m := range mounts {
		if value == m || strings.HasPrefix(value, strings.TrimSuffix(m, "/")+"/") {
			return true
		}
	}
	return false
}

var (
	portLinkName = regexp.MustCompile(`^[A-Z0-9_]+_PORT_[0-9]+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?$`)
	portLinkURL  = regexp.MustCompile(`^(tcp|udp|sctp)://([^/]+)$`)
)

// IsServiceLink says whether a variable is one that Kubernetes sets for a
// Service (docs: "Discovering services", environment variables): by both
// its name and the shape of its value, so a variable a user named that way
// with another kind of value is kept.
func IsServiceLink(name, value string) bool {
	switch {
	case strings.HasSuffix(name, "_SERVICE_HOST"):
		return net.ParseIP(value) != nil
	case strings.HasSuffix(name, "_SERVICE_PORT"), strings.Contains(name, "_SERVICE_PORT_"):
		return isPort(value)
	case portLinkName.MatchString(name):
		switch {
		case strings.HasSuffix(name, "_PROTO"):
			return value == "tcp" || value == "udp" || value == "sctp"
		case strings.HasSuffix(name, "_PORT"):
			return isPort(value)
		case strings.HasSuffix(name, "_ADDR"):
			return net.ParseIP(value) != nil
		}
		return isHostPortURL(value)
	case strings.HasSuffix(name, "_PORT"):
		return isHostPortURL(value)
	}
	return false
}

func isPort(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n > 0 && n < 65536
}

func isHostPortURL(v string) bool {
	m := portLinkURL.FindStringSubmatch(v)
	if m == nil {
		return false
	}
	host, port, err := net.SplitHostPort(m[2])
	return err == nil && net.ParseIP(host) != nil && isPort(port)
}

// EnvWithin returns the environment a cloud is given: the function's own
// variables, and the Service links too when all of them fit within
// maxBytes as size measures them; else the links are left out, with a
// note. The links are never a reason to refuse a pod.
func (f *Function) EnvWithin(maxBytes int, size func(map[string]string) int) (map[string]string, string) {
	if len(f.ServiceLinks) == 0 {
		return f.Env, ""
	}
	all := make(map[string]string, len(f.Env)+len(f.ServiceLinks))
	for k, v := range f.ServiceLinks {
		all[k] = v
	}
	for k, v := range f.Env {
		all[k] = v
	}
	if size(all) <= maxBytes {
		return all, ""
	}
	return f.Env, fmt.Sprintf("the %d variables Kubernetes sets for the namespace's Services are left out: with them the environment would pass the cloud's %d-byte limit (a function cannot reach cluster Services by those addresses)", len(f.ServiceLinks), maxBytes)
}

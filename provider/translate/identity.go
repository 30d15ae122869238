package translate

import (
	"fmt"
	"slices"
	"strings"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
)

// Annotations that choose what a function runs as or where its traffic
// goes. Any pod creator can set them, so they are honoured only where the
// node's podIdentity grants allow them for the pod's namespace: the
// namespace is the trust boundary, as on EKS, where a role comes from a
// ServiceAccount that only those who may edit ServiceAccounts can annotate.
const (
	AnnotationRole           = "faas-kubelet.io/role-arn"
	AnnotationSubnets        = "faas-kubelet.io/vpc-subnet-ids"
	AnnotationSecurityGroups = "faas-kubelet.io/vpc-security-group-ids"
)

// ServiceAccount annotations that name a role (EKS IRSA, and faas-kubelet's
// own on the ServiceAccount): a pod may always name the role its
// ServiceAccount carries.
var serviceAccountRoles = []string{"eks.amazonaws.com/role-arn", AnnotationRole}

// IdentityGrant lets the pods of a namespace (of one ServiceAccount, when
// set) name roles, subnets and security groups with the annotations above.
// Each entry of a list is a value, or a prefix ending in "*" ("*" alone:
// any).
type IdentityGrant struct {
	// Namespace the grant is for; "*" is every namespace.
	Namespace string `json:"namespace"`
	// ServiceAccount, when set, limits the grant to pods running as it.
	ServiceAccount string   `json:"serviceAccount,omitempty"`
	Roles          []string `json:"roles,omitempty"`
	Subnets        []string `json:"subnets,omitempty"`
	SecurityGroups []string `json:"securityGroups,omitempty"`
}

// CheckIdentity refuses, naming the annotation, a pod whose identity or
// network annotations its namespace is not granted. saAnnotations are the
// annotations of the pod's ServiceAccount.
func CheckIdentity(pod *corev1.Pod, saAnnotations map[string]string, grants []IdentityGrant) error {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	var applying []IdentityGrant
	for _, g := range grants {
		if (g.Namespace == "*" || g.Namespace == pod.Namespace) && (g.ServiceAccount == "" || g.ServiceAccount == sa) {
			applying = append(applying, g)
		}
	}
	check := func(annotation string, values []string, list func(IdentityGrant) []string) error {
		for _, v := range values {
			if !slices.ContainsFunc(applying, func(g IdentityGrant) bool { return matchesAny(list(g), v) }) {
				return errdefs.InvalidInputf("metadata.annotations[%s]: %q is not allowed for pods of namespace %s (ServiceAccount %s): the node's podIdentity grants do not include it", annotation, v, pod.Namespace, sa)
			}
		}
		return nil
	}
	if role := strings.TrimSpace(pod.Annotations[AnnotationRole]); role != "" && !ownRole(role, saAnnotations) {
		if err := check(AnnotationRole, []string{role}, func(g IdentityGrant) []string { return g.Roles }); err != nil {
			return err
		}
	}
	if err := check(AnnotationSubnets, splitList(pod.Annotations[AnnotationSubnets]), func(g IdentityGrant) []string { return g.Subnets }); err != nil {
		return err
	}
	return check(AnnotationSecurityGroups, splitList(pod.Annotations[AnnotationSecurityGroups]), func(g IdentityGrant) []string { return g.SecurityGroups })
}

// ownRole says whether role is the one the pod's ServiceAccount names.
func ownRole(role string, saAnnotations map[string]string) bool {
	for _, k := range serviceAccountRoles {
		if saAnnotations[k] == role {
			return true
		}
	}
	return false
}

func matchesAny(patterns []string, v string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(v, prefix) || p == v {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// ValidateGrant says what is wrong with a grant, for the config's checks.
func ValidateGrant(g IdentityGrant) error {
	if g.Namespace == "" {
		return fmt.Errorf("namespace is required (\"*\" for every namespace)")
	}
	for _, list := range [][]string{g.Roles, g.Subnets, g.SecurityGroups} {
		for _, p := range list {
			if p == "" || strings.Contains(strings.TrimSuffix(p, "*"), "*") {
				return fmt.Errorf("%q: an entry is a value or a prefix ending in *", p)
			}
		}
	}
	return nil
}

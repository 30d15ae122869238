package translate

import (
	"strings"
	"testing"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCheckIdentityKeepsEachNamespaceToItsGrants(t *testing.T) {
	grants := []IdentityGrant{
		{Namespace: "team-a", Roles: []string{"arn:aws:iam::1:role/team-a-*"}, Subnets: []string{"subnet-a1", "subnet-a2"}, SecurityGroups: []string{"sg-a"}},
		{Namespace: "team-b", ServiceAccount: "deployer", Roles: []string{"arn:aws:iam::1:role/team-b"}},
		{Namespace: "*", Roles: []string{"arn:aws:iam::1:role/shared"}},
	}
	pod := func(ns, sa string, annotations map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Annotations: annotations}, Spec: corev1.PodSpec{ServiceAccountName: sa}}
	}
	for _, tc := range []struct {
		name    string
		pod     *corev1.Pod
		sa      map[string]string
		refused string // the annotation named, "" when allowed
	}{
		{"no annotations", pod("team-c", "", nil), nil, ""},
		{"own prefix", pod("team-a", "", map[string]string{AnnotationRole: "arn:aws:iam::1:role/team-a-api"}), nil, ""},
		{"another namespace's role", pod("team-a", "", map[string]string{AnnotationRole: "arn:aws:iam::1:role/team-b"}), nil, AnnotationRole},
		{"granted to one ServiceAccount only", pod("team-b", "", map[string]string{AnnotationRole: "arn:aws:iam::1:role/team-b"}), nil, AnnotationRole},
		{"that ServiceAccount", pod("team-b", "deployer", map[string]string{AnnotationRole: "arn:aws:iam::1:role/team-b"}), nil, ""},
		{"granted everywhere", pod("team-c", "", map[string]string{AnnotationRole: "arn:aws:iam::1:role/shared"}), nil, ""},
		{"the ServiceAccount's own role", pod("team-c", "", map[string]string{AnnotationRole: "arn:aws:iam::1:role/c"}),
			map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/c"}, ""},
		{"own subnets", pod("team-a", "", map[string]string{AnnotationSubnets: "subnet-a1, subnet-a2", AnnotationSecurityGroups: "sg-a"}), nil, ""},
		{"one subnet of another network", pod("team-a", "", map[string]string{AnnotationSubnets: "subnet-a1,subnet-b1"}), nil, AnnotationSubnets},
		{"security groups not granted", pod("team-c", "", map[string]string{AnnotationSecurityGroups: "sg-a"}), nil, AnnotationSecurityGroups},
	} {
		err := CheckIdentity(tc.pod, tc.sa, grants)
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.refused != "" && (!errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), "metadata.annotations["+tc.refused+"]")):
			t.Errorf("%s: %v, want a refusal naming %s", tc.name, err, tc.refused)
		}
	}
	if err := CheckIdentity(pod("x", "", map[string]string{AnnotationRole: "arn:aws:iam::1:role/r"}), nil, nil); err == nil {
		t.Error("without grants a pod named a role of its choice")
	}
}

func TestValidateGrant(t *testing.T) {
	for _, g := range []IdentityGrant{{}, {Namespace: "a", Roles: []string{""}}, {Namespace: "a", Roles: []string{"arn:*:role"}}} {
		if ValidateGrant(g) == nil {
			t.Errorf("grant %+v accepted", g)
		}
	}
	if err := ValidateGrant(IdentityGrant{Namespace: "*", Roles: []string{"*"}, Subnets: []string{"subnet-1"}}); err != nil {
		t.Error(err)
	}
}

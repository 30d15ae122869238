package translate

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestIsServiceLinkByNameAndValue(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        bool
	}{
		{"REDIS_SERVICE_HOST", "10.96.0.12", true},
		{"REDIS_SERVICE_PORT", "6379", true},
		{"REDIS_SERVICE_PORT_CLIENT", "6379", true},
		{"REDIS_PORT", "tcp://10.96.0.12:6379", true},
		{"REDIS_PORT_6379_TCP", "tcp://10.96.0.12:6379", true},
		{"REDIS_PORT_6379_TCP_PROTO", "tcp", true},
		{"REDIS_PORT_6379_TCP_PORT", "6379", true},
		{"REDIS_PORT_6379_TCP_ADDR", "fd00::12", true},
		{"APP_PORT", "8080", false},                  // a user's port, not a link
		{"DB_SERVICE_HOST", "db.example.com", false}, // a user's host name
		{"CALLBACK_PORT", "https://example.com:8443", false},
		{"MODE", "production", false},
	} {
		if got := IsServiceLink(tc.name, tc.value); got != tc.want {
			t.Errorf("IsServiceLink(%s=%s) = %v, want %v", tc.name, tc.value, got, tc.want)
		}
	}
}

func TestEnvWithinKeepsLinksOnlyWhenTheyFit(t *testing.T) {
	size := func(env map[string]string) int {
		n := 0
		for k, v := range env {
			n += len(k) + len(v)
		}
		return n
	}
	f := &Function{Env: map[string]string{"MODE": "production"}, ServiceLinks: map[string]string{"REDIS_SERVICE_HOST": "10.96.0.12"}}
	env, note := f.EnvWithin(4096, size)
	if len(env) != 2 || note != "" {
		t.Errorf("within the limit: env %v, note %q", env, note)
	}
	env, note = f.EnvWithin(20, size)
	if len(env) != 1 || env["MODE"] != "production" || !strings.Contains(note, "1 variables Kubernetes sets") {
		t.Errorf("past the limit: env %v, note %q", env, note)
	}
}

func tokenVolume(name, audience string, seconds *int64) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
		{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: audience, ExpirationSeconds: seconds, Path: "token"}},
		{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
	}}}}
}

func TestServiceAccountTokenOptInAudienceAndLifetime(t *testing.T) {
	optIn := map[string]string{AnnotationServiceAccountToken: "true"}
	admission := tokenVolume("kube-api-access-x7k2p", "", ptr.To(int64(3607)))
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		automount   *bool
		sa          string
		volumes     []corev1.Volume
		want        *TokenSpec
	}{
		{name: "no opt-in", volumes: []corev1.Volume{admission}},
		{name: "annotation not true", annotations: map[string]string{AnnotationServiceAccountToken: "True"}},
		{name: "annotation", annotations: optIn, sa: "app", volumes: []corev1.Volume{admission},
			want: &TokenSpec{ServiceAccount: "app", ExpirationSeconds: 3600}},
		{name: "automount true on the pod", automount: ptr.To(true),
			want: &TokenSpec{ServiceAccount: "default", ExpirationSeconds: 3600}},
		{name: "automount false wins over the annotation", annotations: optIn, automount: ptr.To(false)},
		{name: "the pod's audience and lifetime", annotations: optIn, volumes: []corev1.Volume{admission, tokenVolume("vault", "vault", ptr.To(int64(7200)))},
			want: &TokenSpec{ServiceAccount: "default", Audience: "vault", ExpirationSeconds: 7200}},
		{name: "a lifetime below the API's minimum", annotations: optIn, volumes: []corev1.Volume{tokenVolume("short", "", ptr.To(int64(60)))},
			want: &TokenSpec{ServiceAccount: "default", ExpirationSeconds: 600}},
		{name: "identity webhooks' tokens are not the pod's", annotations: optIn, volumes: []corev1.Volume{
			tokenVolume("aws-iam-token", "sts.amazonaws.com", ptr.To(int64(86400))),
			tokenVolume("azure-identity-token", "api://AzureADTokenExchange", ptr.To(int64(3600)))},
			want: &TokenSpec{ServiceAccount: "default", ExpirationSeconds: 3600}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{}
			pod.Annotations = tc.annotations
			pod.Spec.AutomountServiceAccountToken = tc.automount
			pod.Spec.ServiceAccountName = tc.sa
			pod.Spec.Volumes = tc.volumes
			got, ok := ServiceAccountToken(pod)
			switch {
			case tc.want == nil && ok:
				t.Errorf("token %+v for a pod that did not opt in", got)
			case tc.want != nil && (!ok || got != *tc.want):
				t.Errorf("ServiceAccountToken = %+v, %v; want %+v", got, ok, *tc.want)
			}
		})
	}
}

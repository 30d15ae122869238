package translate

import (
	"strings"
	"testing"
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

package alibaba

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// TestJobProgressFitsFCTags records a Job's progress as the core does
// (translate.JobTags, whose message is empty while it runs) through the SDK
// against an emulator that refuses what TagResource refuses, and reads it
// back as a restart does (Deploy of the existing service).
func TestJobProgressFitsFCTags(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	fn := function(t, image, func(p *corev1.Pod) {
		p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		p.Labels["tier"] = "" // a label with an empty value
		p.Labels["aliyun-team"] = "aliyun-payments"
	})
	if _, err := e.b.Deploy(ctx, fn); !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), "metadata.labels[aliyun-team]") {
		t.Fatalf("a label key FC refuses (aliyun prefix): %v, want InvalidInput naming the label", err)
	}
	delete(fn.Tags, "aliyun-team")
	fn.Tags["team"] = "aliyun-payments"
	if _, err := e.b.Deploy(ctx, fn); err != nil {
		t.Fatalf("Deploy with an empty label: %v", err)
	}
	long := strings.Repeat("x", 290) + " trailing"
	url := "fetching https://example.com/report?id=1 failed: see http://status.example.com"
	for _, j := range []translate.Job{
		{State: translate.JobRunning},
		{State: translate.JobSucceeded},
		{State: translate.JobRunning, Restarts: 1, Message: url},
		{State: translate.JobFailed, Restarts: 2, Message: long},
		{State: translate.JobFailed, Restarts: 3, Message: "~"},
	} {
		if err := e.b.Tag(ctx, fn.Name, translate.JobTags(j)); err != nil {
			t.Fatalf("Tag %+v: %v", j, err)
		}
		for k, v := range e.tags(t, fn.Name) {
			if n := utf8.RuneCountInString(v); n < 1 || n > 128 || strings.Contains(v, "://") {
				t.Errorf("tag %s = %q was written as FC refuses it", k, v)
			}
		}
		st, err := e.b.Deploy(ctx, fn)
		if err != nil {
			t.Fatalf("redeploy: %v", err)
		}
		got := translate.JobFromTags(st.Tags)
		if j.Message == long {
			if !strings.HasPrefix(got.Message, long[:100]) || utf8.RuneCountInString(got.Message) > 128 {
				t.Errorf("a long message read back as %q", got.Message)
			}
			got.Message = long
		}
		if got != j {
			t.Errorf("recorded %+v, read back %+v", j, got)
		}
		if v, ok := st.Tags["tier"]; !ok || v != "" || st.Tags["team"] != "aliyun-payments" {
			t.Errorf("labels read back as tier=%q (%v) team=%q", v, ok, st.Tags["team"])
		}
	}
}

func TestTagValuesRoundTrip(t *testing.T) {
	for _, v := range []string{"", "~", "~~x", "plain", "aliyun-x", "acs:x", "https://a.b/c d HTTP://e", "hxxps://x", strings.Repeat("é", 128)} {
		enc := tagValue(v)
		if n := utf8.RuneCountInString(enc); n < 1 || n > 128 || strings.Contains(strings.ToLower(enc), "://") {
			t.Errorf("tagValue(%q) = %q, which FC refuses", v, enc)
		}
		if got := untagValue(enc); got != v {
			t.Errorf("untagValue(tagValue(%q)) = %q (via %q)", v, got, enc)
		}
	}
	long := strings.Repeat("ab", 100)
	if a, b := tagValue(long), tagValue(long+"c"); a == b || utf8.RuneCountInString(a) != 128 {
		t.Errorf("long values: %q and %q", a, b)
	}
}

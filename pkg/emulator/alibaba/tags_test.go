package alibaba

import (
	"net/http"
	"strings"
	"testing"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"
)

// TestTagResourceRefusesWhatFCRefuses pins TagResource's rules (API
// 2021-04-06): keys and values of 1 to 128 characters, keys not starting
// with aliyun or acs:, neither containing http:// or https://.
func TestTagResourceRefusesWhatFCRefuses(t *testing.T) {
	e := start(t, Options{})
	createService(t, e.fc, "pods", false)
	arn := "acs:fc:" + DefaultRegion + ":" + DefaultAccountID + ":services/pods"
	tag := func(k, v string) error {
		_, err := e.fc.TagResourceWithOptions(&fc.TagResourceRequest{ResourceArn: tea.String(arn),
			Tags: map[string]*string{k: tea.String(v)}}, &fc.TagResourceHeaders{}, rt)
		return err
	}
	for _, c := range []struct{ name, k, v string }{
		{"empty value", "faas-kubelet.io/job-message", ""},
		{"value of 129 characters", "k", strings.Repeat("v", 129)},
		{"value of 129 Unicode characters", "k", strings.Repeat("é", 129)},
		{"value with http://", "k", "see http://example.com"},
		{"value with https://", "k", "see https://example.com/x"},
		{"key of 129 characters", strings.Repeat("k", 129), "v"},
		{"key starting with aliyun", "aliyun-team", "v"},
		{"key starting with acs:", "acs:team", "v"},
		{"key with https://", "https://team", "v"},
	} {
		wantFCError(t, c.name, tag(c.k, c.v), http.StatusBadRequest, "InvalidArgument")
	}
	for _, c := range []struct{ name, k, v string }{
		{"value of 128 characters", "k", strings.Repeat("v", 128)},
		{"value of 128 Unicode characters", "k", strings.Repeat("é", 128)},
		{"key of 128 characters", strings.Repeat("k", 128), "v"},
		{"value with a scheme-less host", "k", "example.com/x"},
	} {
		if err := tag(c.k, c.v); err != nil {
			t.Errorf("%s refused: %v", c.name, err)
		}
	}
}

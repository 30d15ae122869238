package alibaba

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// allResources are the FC actions that cannot be granted per resource:
// their documents' authorization tables list "All Resources", so a policy
// must name Resource "*" for them (TagResource and GetResourceTags, API
// 2021-04-06; UntagResource and ListTaggedResources likewise).
var allResources = []string{"fc:TagResource", "fc:GetResourceTags", "fc:UntagResource", "fc:ListTaggedResources"}

// Every call the backend can make is allowed by the shipped RAM policy, on
// the resources RAM checks it against.
func TestPolicyAllowsEveryCall(t *testing.T) {
	data, err := os.ReadFile("../../deploy/cloud-policies/alibaba-fc-ram-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Action   any
			Resource any
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	list := func(v any) []string {
		switch a := v.(type) {
		case string:
			return []string{a}
		case []any:
			var out []string
			for _, x := range a {
				out = append(out, x.(string))
			}
			return out
		}
		return nil
	}
	var allowed []string
	for _, s := range doc.Statement {
		actions, resources := list(s.Action), list(s.Resource)
		allowed = append(allowed, actions...)
		for _, a := range actions {
			if slices.Contains(allResources, a) && !slices.Equal(resources, []string{"*"}) {
				t.Errorf("%s is granted on %v: FC authorizes it only on all resources, so it must be granted on \"*\" alone", a, resources)
			}
		}
	}
	api := reflect.TypeFor[API]()
	for i := 0; i < api.NumMethod(); i++ {
		want := "fc:" + strings.TrimSuffix(api.Method(i).Name, "WithOptions")
		if !slices.Contains(allowed, want) {
			t.Errorf("the backend calls %s but the policy does not allow %s", api.Method(i).Name, want)
		}
	}
	for _, want := range []string{"log:GetLogStoreLogs", "ram:PassRole"} {
		if !slices.Contains(allowed, want) {
			t.Errorf("the policy lacks %s", want)
		}
	}
}

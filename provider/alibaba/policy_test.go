package alibaba

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every call the backend can make is allowed by the shipped RAM policy.
func TestPolicyAllowsEveryCall(t *testing.T) {
	data, err := os.ReadFile("../../deploy/cloud-policies/alibaba-fc-ram-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Action any
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var allowed []string
	for _, s := range doc.Statement {
		switch a := s.Action.(type) {
		case string:
			allowed = append(allowed, a)
		case []any:
			for _, x := range a {
				allowed = append(allowed, x.(string))
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

package lambda

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"
)

// policyActions reads every action a policy document allows.
func policyActions(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Effect string
			Action any
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, s := range doc.Statement {
		switch a := s.Action.(type) {
		case string:
			out = append(out, a)
		case []any:
			for _, x := range a {
				out = append(out, x.(string))
			}
		}
	}
	return out
}

// Every call the backend can make is allowed by the shipped IAM policy.
func TestPolicyAllowsEveryCall(t *testing.T) {
	allowed := policyActions(t, "../../deploy/cloud-policies/aws-lambda-iam-policy.json")
	action := map[string]string{"Invoke": "lambda:InvokeFunction"}
	for _, api := range []struct {
		prefix string
		typ    reflect.Type
	}{{"lambda:", reflect.TypeFor[API]()}, {"logs:", reflect.TypeFor[LogsAPI]()}} {
		for i := 0; i < api.typ.NumMethod(); i++ {
			m := api.typ.Method(i).Name
			want, ok := action[m]
			if !ok {
				want = api.prefix + m
			}
			if !slices.Contains(allowed, want) {
				t.Errorf("the backend calls %s but the policy does not allow %s", m, want)
			}
		}
	}
	if !slices.Contains(allowed, "iam:PassRole") {
		t.Error("creating functions needs iam:PassRole for their execution role")
	}
}

package azure

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"testing"
)

// Every call the backend can make is allowed by the shipped role definition.
func TestRoleAllowsEveryCall(t *testing.T) {
	data, err := os.ReadFile("../../deploy/cloud-policies/azure-functions-role.json")
	if err != nil {
		t.Fatal(err)
	}
	var role struct{ Actions []string }
	if err := json.Unmarshal(data, &role); err != nil {
		t.Fatal(err)
	}
	needs := map[string][]string{
		"BeginCreateOrUpdate":         {"Microsoft.Web/sites/write", "Microsoft.Web/serverfarms/join/action", "Microsoft.Web/sites/operationresults/read"},
		"Get":                         {"Microsoft.Web/sites/read"},
		"Delete":                      {"Microsoft.Web/sites/delete"},
		"NewListByResourceGroupPager": {"Microsoft.Web/sites/read"},
		"GetWebSiteContainerLogs":     {"Microsoft.Web/sites/containerlogs/action"},
		"ListHostKeys":                {"Microsoft.Web/sites/host/listkeys/action"},
		"ListApplicationSettings":     {"Microsoft.Web/sites/config/list/action"},
		"UpdateApplicationSettings":   {"Microsoft.Web/sites/config/write"},
		"MergeTags":                   {"Microsoft.Resources/tags/write"},
		"List":                        {"Microsoft.Insights/metrics/read"},
		"PlanTier":                    {"Microsoft.Web/serverfarms/read"},
	}
	for _, api := range []reflect.Type{reflect.TypeFor[API](), reflect.TypeFor[TagsAPI](), reflect.TypeFor[MetricsAPI](), reflect.TypeFor[PlanAPI]()} {
		for i := 0; i < api.NumMethod(); i++ {
			m := api.Method(i).Name
			actions, ok := needs[m]
			if !ok {
				t.Errorf("the backend calls %s: say which role actions it needs in this test and in the role", m)
			}
			for _, a := range actions {
				if !slices.Contains(role.Actions, a) {
					t.Errorf("%s needs %s, which the role does not grant", m, a)
				}
			}
		}
	}
}

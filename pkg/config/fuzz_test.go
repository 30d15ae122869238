package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to config loading: Parse, SetDefaults and
// Validate must never panic, and every problem Validate reports names a
// field path. Seeds: testdata/fuzz/FuzzParse, the defaults golden file and
// the configs of the table tests.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("testdata", "defaults.golden.yaml")); err == nil {
		f.Add(data)
	}
	f.Add([]byte("nodes: [{name: a, cloud: memory, region: x}]"))
	f.Add([]byte("nodes: [{name: a, cloud: alibaba-fc, region: cn-hangzhou, alibaba: {accountId: '1', endpoint: 'http://127.0.0.1:1', logProject: p, logStore: s}}]"))
	f.Add([]byte("nodes: [{name: a, cloud: azure-functions, region: w, azure: {subscriptionId: s, resourceGroup: rg, serverFarmId: p}}]"))
	f.Add([]byte("clientQPS: -1\nnodes: [{name: Bad_Name, capacity: {memory: lots}, taint: {effect: Never}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		c.SetDefaults()
		for _, e := range c.Validate([]string{"alibaba-fc", "aws-lambda", "azure-functions", "memory"}) {
			if e.Field == "" || strings.HasPrefix(e.Error(), ":") {
				t.Errorf("a problem without a field path: %v", e)
			}
		}
	})
}

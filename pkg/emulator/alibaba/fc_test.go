package alibaba

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"
)

func TestServiceAndFunctionLifecycle(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)}
	e := start(t, Options{AccelerationDelay: 30 * time.Second, Now: clk.Now})
	c := e.fc

	svc := createService(t, c, "pods", true)
	if tea.StringValue(svc.ServiceId) == "" || tea.StringValue(svc.LogConfig.Project) != logProject || tea.StringValue(svc.CreatedTime) != "2026-11-22T06:00:00.000+0000" {
		t.Errorf("CreateService answered %v", svc)
	}
	_, err := c.CreateServiceWithOptions(&fc.CreateServiceRequest{ServiceName: tea.String("pods")}, &fc.CreateServiceHeaders{}, rt)
	wantFCError(t, "second CreateService", err, http.StatusConflict, "ServiceAlreadyExists")

	arn := "acs:fc:" + DefaultRegion + ":" + DefaultAccountID + ":services/pods"
	if _, err := c.TagResourceWithOptions(&fc.TagResourceRequest{ResourceArn: tea.String(arn),
		Tags: map[string]*string{"faas-kubelet.io/node": tea.String("vk"), "team": tea.String("a")}}, &fc.TagResourceHeaders{}, rt); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := c.UntagResourceWithOptions(&fc.UntagResourceRequest{ResourceArn: tea.String(arn), TagKeys: tea.StringSlice([]string{"team"})}, &fc.UntagResourceHeaders{}, rt); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	tags, err := c.GetResourceTagsWithOptions(&fc.GetResourceTagsRequest{ResourceArn: tea.String(arn)}, &fc.GetResourceTagsHeaders{}, rt)
	if err != nil || len(tags.Body.Tags) != 1 || tea.StringValue(tags.Body.Tags["faas-kubelet.io/node"]) != "vk" {
		t.Errorf("GetResourceTags: %v %v", tags, err)
	}

	created := createFunction(t, c, "pods", "web", map[string]string{"GREETING": "hi"})
	if tea.Int32Value(created.CaPort) != 8080 || tea.Int32Value(created.MemorySize) != 512 || tea.StringValue(created.FunctionId) == "" ||
		tea.StringValue(created.CodeChecksum) == "" || tea.StringValue(created.EnvironmentVariables["GREETING"]) != "hi" ||
		tea.StringValue(created.CustomContainerConfig.AccelerationType) != "Default" {
		t.Errorf("CreateFunction answered %v", created)
	}
	_, err = c.CreateFunctionWithOptions(tea.String("pods"), functionRequest("web", image, nil), &fc.CreateFunctionHeaders{}, rt)
	wantFCError(t, "second CreateFunction", err, http.StatusConflict, "FunctionAlreadyExists")

	acceleration := func() string {
		t.Helper()
		got, err := c.GetFunctionWithOptions(tea.String("pods"), tea.String("web"), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, rt)
		if err != nil {
			t.Fatalf("GetFunction: %v", err)
		}
		if info := got.Body.CustomContainerConfig.AccelerationInfo; info != nil {
			return tea.StringValue(info.Status)
		}
		return "<none>"
	}
	if got := acceleration(); got != "Preparing" {
		t.Errorf("acceleration right after create: %s, want Preparing", got)
	}
	clk.Advance(30 * time.Second)
	if got := acceleration(); got != "Ready" {
		t.Errorf("acceleration after the delay: %s, want Ready", got)
	}
	up, err := c.UpdateFunctionWithOptions(tea.String("pods"), tea.String("web"), &fc.UpdateFunctionRequest{
		MemorySize: tea.Int32(1024), InstanceConcurrency: tea.Int32(20),
		CustomContainerConfig: &fc.CustomContainerConfig{Image: tea.String(image + "b"), AccelerationType: tea.String("Default")},
	}, &fc.UpdateFunctionHeaders{}, rt)
	if err != nil || tea.Int32Value(up.Body.MemorySize) != 1024 || tea.Int32Value(up.Body.InstanceConcurrency) != 20 || tea.Int32Value(up.Body.CaPort) != 8080 {
		t.Fatalf("UpdateFunction: %v %v", up, err)
	}
	if got := acceleration(); got != "Preparing" {
		t.Errorf("acceleration after an image update: %s, want Preparing", got)
	}
	_, err = c.UpdateFunctionWithOptions(tea.String("pods"), tea.String("web"), &fc.UpdateFunctionRequest{
		CustomContainerConfig: &fc.CustomContainerConfig{Image: tea.String(image), AccelerationType: tea.String("None")},
	}, &fc.UpdateFunctionHeaders{}, rt)
	if err != nil || acceleration() != "<none>" {
		t.Errorf("accelerationType None: %v, acceleration %s", err, acceleration())
	}

	gs, err := c.GetServiceWithOptions(tea.String("pods"), &fc.GetServiceRequest{}, &fc.GetServiceHeaders{}, rt)
	if err != nil || tea.StringValue(gs.Body.LogConfig.Logstore) != logStore || !tea.BoolValue(gs.Body.InternetAccess) {
		t.Errorf("GetService: %v %v", gs, err)
	}
	settings, err := c.GetAccountSettingsWithOptions(&fc.GetAccountSettingsHeaders{}, rt)
	if err != nil || len(settings.Body.AvailableAZs) == 0 {
		t.Errorf("GetAccountSettings: %v %v", settings, err)
	}
}

func TestInvalidInputIsRefused(t *testing.T) {
	e := start(t, Options{})
	createService(t, e.fc, "svc", false)
	for _, tc := range []struct {
		name string
		edit func(*fc.CreateFunctionRequest)
	}{
		{"name starting with a digit", func(r *fc.CreateFunctionRequest) { r.FunctionName = tea.String("1fn") }},
		{"name too long", func(r *fc.CreateFunctionRequest) { r.FunctionName = tea.String(strings.Repeat("f", 65)) }},
		{"memory not a multiple of 64", func(r *fc.CreateFunctionRequest) { r.MemorySize = tea.Int32(200) }},
		{"memory too large", func(r *fc.CreateFunctionRequest) { r.MemorySize = tea.Int32(65536) }},
		{"timeout zero", func(r *fc.CreateFunctionRequest) { r.Timeout = tea.Int32(0) }},
		{"timeout too long", func(r *fc.CreateFunctionRequest) { r.Timeout = tea.Int32(86401) }},
		{"no image", func(r *fc.CreateFunctionRequest) { r.CustomContainerConfig = nil }},
		{"Docker Hub image", func(r *fc.CreateFunctionRequest) {
			r.CustomContainerConfig.Image = tea.String("docker.io/library/nginx:1")
		}},
		{"other region's registry", func(r *fc.CreateFunctionRequest) {
			r.CustomContainerConfig.Image = tea.String("registry.cn-beijing.aliyuncs.com/faas/hello:1")
		}},
		{"image that cannot be pulled", func(r *fc.CreateFunctionRequest) {
			r.CustomContainerConfig.Image = tea.String("registry.cn-hangzhou.aliyuncs.com/faas/hello:fail-create")
		}},
		{"Enterprise Edition image without instanceID", func(r *fc.CreateFunctionRequest) {
			r.CustomContainerConfig.Image = tea.String("acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com/ns/app:v1")
		}},
		{"unknown runtime", func(r *fc.CreateFunctionRequest) { r.Runtime = tea.String("cobol") }},
		{"command not a JSON list", func(r *fc.CreateFunctionRequest) { r.CustomContainerConfig.Command = tea.String("/bin/sh") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := functionRequest("fn", image, nil)
			tc.edit(req)
			_, err := e.fc.CreateFunctionWithOptions(tea.String("svc"), req, &fc.CreateFunctionHeaders{}, rt)
			wantFCError(t, "CreateFunction", err, http.StatusBadRequest, "InvalidArgument")
		})
	}
	for i, ok := range []string{"registry-vpc.cn-hangzhou.aliyuncs.com/ns/app:v1", "registry-intl.cn-hangzhou.aliyuncs.com/ns/app:v1",
		"acme-registry.cn-hangzhou.cr.aliyuncs.com/ns/app@sha256:abc"} {
		req := functionRequest(fmt.Sprintf("ok-%d", i), ok, nil)
		if strings.Contains(ok, ".cr.aliyuncs.com/") {
			req.CustomContainerConfig.InstanceID = tea.String("cri-acme00000000001")
		}
		if _, err := e.fc.CreateFunctionWithOptions(tea.String("svc"), req, &fc.CreateFunctionHeaders{}, rt); err != nil {
			t.Errorf("image %s refused: %v", ok, err)
		}
	}

	_, err := e.fc.CreateServiceWithOptions(&fc.CreateServiceRequest{Description: tea.String("no name")}, &fc.CreateServiceHeaders{}, rt)
	wantFCError(t, "CreateService without serviceName", err, http.StatusBadRequest, "InvalidArgument")
	_, err = e.fc.CreateServiceWithOptions(&fc.CreateServiceRequest{ServiceName: tea.String("-bad")}, &fc.CreateServiceHeaders{}, rt)
	wantFCError(t, "CreateService with a bad name", err, http.StatusBadRequest, "InvalidArgument")
	_, err = e.fc.CreateServiceWithOptions(&fc.CreateServiceRequest{ServiceName: tea.String("short-logstore"),
		LogConfig: &fc.LogConfig{Project: tea.String(logProject), Logstore: tea.String("fc")}}, &fc.CreateServiceHeaders{}, rt)
	wantFCError(t, "logstore name under 3 characters", err, http.StatusBadRequest, "InvalidArgument")

	arn := tea.String("acs:fc:" + DefaultRegion + ":" + DefaultAccountID + ":services/svc")
	tags := map[string]*string{}
	for i := range 21 {
		tags[fmt.Sprintf("k%d", i)] = tea.String("v")
	}
	_, err = e.fc.TagResourceWithOptions(&fc.TagResourceRequest{ResourceArn: arn, Tags: tags}, &fc.TagResourceHeaders{}, rt)
	wantFCError(t, "21 tags", err, http.StatusBadRequest, "InvalidArgument")

	_, err = e.fc.GetFunctionWithOptions(tea.String("svc"), tea.String("missing"), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, rt)
	wantFCError(t, "missing function", err, http.StatusNotFound, "FunctionNotFound")
	_, err = e.fc.GetServiceWithOptions(tea.String("missing"), &fc.GetServiceRequest{}, &fc.GetServiceHeaders{}, rt)
	wantFCError(t, "missing service", err, http.StatusNotFound, "ServiceNotFound")
	_, err = e.fc.InvokeFunctionWithOptions(tea.String("svc"), tea.String("missing"), &fc.InvokeFunctionRequest{}, &fc.InvokeFunctionHeaders{}, rt)
	wantFCError(t, "invoking a missing function", err, http.StatusNotFound, "FunctionNotFound")
}

func TestListsPage(t *testing.T) {
	e := start(t, Options{})
	c := e.fc
	for i := range 25 {
		name := fmt.Sprintf("svc-%02d", i)
		createService(t, c, name, false)
		if i%2 == 0 {
			arn := "acs:fc:" + DefaultRegion + ":" + DefaultAccountID + ":services/" + name
			if _, err := c.TagResourceWithOptions(&fc.TagResourceRequest{ResourceArn: tea.String(arn), Tags: map[string]*string{"i": tea.String(fmt.Sprint(i))}}, &fc.TagResourceHeaders{}, rt); err != nil {
				t.Fatal(err)
			}
		}
	}
	createService(t, c, "other", false)

	var names []string
	pages := 0
	req := &fc.ListServicesRequest{Limit: tea.Int32(10), Prefix: tea.String("svc-")}
	for {
		out, err := c.ListServicesWithOptions(req, &fc.ListServicesHeaders{}, rt)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range out.Body.Services {
			names = append(names, tea.StringValue(s.ServiceName))
		}
		if tea.StringValue(out.Body.NextToken) == "" {
			break
		}
		req.NextToken = out.Body.NextToken
	}
	if pages != 3 || len(names) != 25 || names[0] != "svc-00" || names[24] != "svc-24" {
		t.Errorf("ListServices: %d pages %v", pages, names)
	}
	all, err := c.ListServicesWithOptions(&fc.ListServicesRequest{}, &fc.ListServicesHeaders{}, rt)
	if err != nil || len(all.Body.Services) != 20 || tea.StringValue(all.Body.NextToken) == "" {
		t.Errorf("ListServices default limit: %d services, next %q, %v", len(all.Body.Services), tea.StringValue(all.Body.NextToken), err)
	}
	from, err := c.ListServicesWithOptions(&fc.ListServicesRequest{StartKey: tea.String("svc-20")}, &fc.ListServicesHeaders{}, rt)
	if err != nil || len(from.Body.Services) != 5 {
		t.Errorf("ListServices from svc-20: %v %v", from, err)
	}
	_, err = c.ListServicesWithOptions(&fc.ListServicesRequest{Limit: tea.Int32(101)}, &fc.ListServicesHeaders{}, rt)
	wantFCError(t, "limit 101", err, http.StatusBadRequest, "InvalidArgument")

	for i := range 5 {
		createFunction(t, c, "other", fmt.Sprintf("fn-%d", i), nil)
	}
	fns, err := c.ListFunctionsWithOptions(tea.String("other"), &fc.ListFunctionsRequest{Limit: tea.Int32(3)}, &fc.ListFunctionsHeaders{}, rt)
	if err != nil || len(fns.Body.Functions) != 3 || tea.StringValue(fns.Body.NextToken) == "" {
		t.Fatalf("ListFunctions page 1: %v %v", fns, err)
	}
	fns, err = c.ListFunctionsWithOptions(tea.String("other"), &fc.ListFunctionsRequest{Limit: tea.Int32(3), NextToken: fns.Body.NextToken}, &fc.ListFunctionsHeaders{}, rt)
	if err != nil || len(fns.Body.Functions) != 2 || fns.Body.NextToken != nil || tea.StringValue(fns.Body.Functions[1].FunctionName) != "fn-4" {
		t.Errorf("ListFunctions page 2: %v %v", fns, err)
	}

	tagged := map[string]string{}
	treq := &fc.ListTaggedResourcesRequest{Limit: tea.Int32(5)}
	for {
		out, err := c.ListTaggedResourcesWithOptions(treq, &fc.ListTaggedResourcesHeaders{}, rt)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Body.Resources {
			tagged[tea.StringValue(r.ResourceArn)] = tea.StringValue(r.Tags["i"])
		}
		if tea.StringValue(out.Body.NextToken) == "" {
			break
		}
		treq.NextToken = out.Body.NextToken
	}
	if len(tagged) != 13 || tagged["acs:fc:"+DefaultRegion+":"+DefaultAccountID+":services/svc-24"] != "24" {
		t.Errorf("ListTaggedResources: %v", tagged)
	}
}

func TestDeletesRefusedWhileNotEmpty(t *testing.T) {
	e := start(t, Options{})
	c := e.fc
	createService(t, c, "svc", false)
	createFunction(t, c, "svc", "fn", nil)
	arn := tea.String("acs:fc:" + DefaultRegion + ":" + DefaultAccountID + ":services/svc")
	if _, err := c.TagResourceWithOptions(&fc.TagResourceRequest{ResourceArn: arn, Tags: map[string]*string{"a": tea.String("b")}}, &fc.TagResourceHeaders{}, rt); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTriggerWithOptions(tea.String("svc"), tea.String("fn"), &fc.CreateTriggerRequest{
		TriggerName: tea.String("http"), TriggerType: tea.String("http"),
		TriggerConfig: tea.String(`{"authType":"anonymous","methods":["GET","POST"]}`),
	}, &fc.CreateTriggerHeaders{}, rt); err != nil {
		t.Fatal(err)
	}

	_, err := c.DeleteServiceWithOptions(tea.String("svc"), &fc.DeleteServiceHeaders{}, rt)
	wantFCError(t, "DeleteService with functions", err, http.StatusPreconditionFailed, "ServiceNotEmpty")
	_, err = c.DeleteFunctionWithOptions(tea.String("svc"), tea.String("fn"), &fc.DeleteFunctionHeaders{}, rt)
	wantFCError(t, "DeleteFunction with triggers", err, http.StatusPreconditionFailed, "FunctionNotEmpty")

	del, err := c.DeleteTriggerWithOptions(tea.String("svc"), tea.String("fn"), tea.String("http"), &fc.DeleteTriggerHeaders{}, rt)
	if err != nil || tea.Int32Value(del.StatusCode) != http.StatusNoContent {
		t.Fatalf("DeleteTrigger: %v %v", del, err)
	}
	_, err = c.GetTriggerWithOptions(tea.String("svc"), tea.String("fn"), tea.String("http"), &fc.GetTriggerHeaders{}, rt)
	wantFCError(t, "deleted trigger", err, http.StatusNotFound, "TriggerNotFound")
	if _, err := c.DeleteFunctionWithOptions(tea.String("svc"), tea.String("fn"), &fc.DeleteFunctionHeaders{}, rt); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunctionWithOptions(tea.String("svc"), tea.String("fn"), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, rt)
	wantFCError(t, "deleted function", err, http.StatusNotFound, "FunctionNotFound")
	if _, err := c.DeleteServiceWithOptions(tea.String("svc"), &fc.DeleteServiceHeaders{}, rt); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetServiceWithOptions(tea.String("svc"), &fc.GetServiceRequest{}, &fc.GetServiceHeaders{}, rt)
	wantFCError(t, "deleted service", err, http.StatusNotFound, "ServiceNotFound")
	_, err = c.GetResourceTagsWithOptions(&fc.GetResourceTagsRequest{ResourceArn: arn}, &fc.GetResourceTagsHeaders{}, rt)
	wantFCError(t, "tags of a deleted service", err, http.StatusNotFound, "ServiceNotFound")
	left, err := c.ListTaggedResourcesWithOptions(&fc.ListTaggedResourcesRequest{}, &fc.ListTaggedResourcesHeaders{}, rt)
	if err != nil || len(left.Body.Resources) != 0 {
		t.Errorf("ListTaggedResources after the delete: %v %v", left, err)
	}
}

func TestWrongCredentialsAreRefused(t *testing.T) {
	e := start(t, Options{})
	_, err := fcClient(t, e.ts, "wrong-secret").ListServicesWithOptions(&fc.ListServicesRequest{}, &fc.ListServicesHeaders{}, rt)
	wantFCError(t, "wrong secret", err, http.StatusForbidden, "SignatureNotMatch")
	if e.s.Calls()["ListServices"] != 1 {
		t.Errorf("calls = %v", e.s.Calls())
	}
	resp, err := http.Get(e.ts.URL + "/2021-04-06/services")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Fc-Request-Id") == "" {
		t.Errorf("unsigned request: %d %v", resp.StatusCode, resp.Header)
	}
	other := New(Options{Credentials: map[string]string{"LTAIOTHER": "x"}})
	ts := httpServer(t, other)
	_, err = fcClient(t, ts, DefaultAccessKeySecret).ListServicesWithOptions(&fc.ListServicesRequest{}, &fc.ListServicesHeaders{}, rt)
	wantFCError(t, "unknown key ID", err, http.StatusForbidden, "InvalidAccessKeyID")
}

func TestInjectedFaultsAndCounters(t *testing.T) {
	e := start(t, Options{})
	createService(t, e.fc, "svc", false)
	e.s.Inject(Fault{Op: "CreateFunction", Status: http.StatusTooManyRequests, Count: 2, RetryAfter: 1})
	for i := range 2 {
		_, err := e.fc.CreateFunctionWithOptions(tea.String("svc"), functionRequest("fn", image, nil), &fc.CreateFunctionHeaders{}, rt)
		wantFCError(t, fmt.Sprintf("injected 429 #%d", i+1), err, http.StatusTooManyRequests, "ResourceThrottled")
	}
	createFunction(t, e.fc, "svc", "fn", nil)

	resp, err := http.Post(e.ts.URL+"/_emulator/faults", "application/json", strings.NewReader(`{"op":"InvokeFunction","status":503}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /_emulator/faults: %v %v", resp, err)
	}
	resp.Body.Close()
	_, err = e.fc.InvokeFunctionWithOptions(tea.String("svc"), tea.String("fn"), &fc.InvokeFunctionRequest{}, &fc.InvokeFunctionHeaders{}, rt)
	wantFCError(t, "injected 503", err, http.StatusServiceUnavailable, "ServiceUnavailable")
	invoke(t, e.fc, "svc", "fn", "", nil)

	calls := e.s.Calls()
	if calls["CreateFunction"] != 3 || calls["InvokeFunction"] != 2 || calls["CreateService"] != 1 {
		t.Errorf("calls = %v", calls)
	}
}

// TestMemoryFollowsTheInstanceType pins FC 2.0's instance types: elastic
// instances (e1, the default) take 128 to 3,072 MB in steps of 64;
// performance instances (c1) take 4,096, 8,192, 16,384 or 32,768 MB.
func TestMemoryFollowsTheInstanceType(t *testing.T) {
	e := start(t, Options{})
	createService(t, e.fc, "pods", false)
	create := func(name, instanceType string, mem int32) error {
		req := functionRequest(name, image, nil)
		req.MemorySize = tea.Int32(mem)
		if instanceType != "" {
			req.InstanceType = tea.String(instanceType)
		}
		_, err := e.fc.CreateFunctionWithOptions(tea.String("pods"), req, &fc.CreateFunctionHeaders{}, rt)
		return err
	}
	for i, c := range []struct {
		instanceType string
		mem          int32
		ok           bool
	}{
		{"", 3072, true}, {"e1", 128, true}, {"", 3136, false}, {"", 4096, false}, {"e1", 32768, false},
		{"c1", 4096, true}, {"c1", 32768, true}, {"c1", 3072, false}, {"c1", 5120, false}, {"x9", 512, false},
	} {
		err := create(fmt.Sprintf("f%d", i), c.instanceType, c.mem)
		if c.ok && err != nil {
			t.Errorf("%q with %d MB refused: %v", c.instanceType, c.mem, err)
		}
		if !c.ok {
			wantFCError(t, fmt.Sprintf("%q with %d MB", c.instanceType, c.mem), err, http.StatusBadRequest, "InvalidArgument")
		}
	}
	// UpdateFunction checks the function as it would be after the update.
	_, err := e.fc.UpdateFunctionWithOptions(tea.String("pods"), tea.String("f0"), &fc.UpdateFunctionRequest{MemorySize: tea.Int32(8192)}, &fc.UpdateFunctionHeaders{}, rt)
	wantFCError(t, "an elastic function updated to 8192 MB", err, http.StatusBadRequest, "InvalidArgument")
	if _, err := e.fc.UpdateFunctionWithOptions(tea.String("pods"), tea.String("f0"), &fc.UpdateFunctionRequest{MemorySize: tea.Int32(8192), InstanceType: tea.String("c1")}, &fc.UpdateFunctionHeaders{}, rt); err != nil {
		t.Errorf("moving a function to c1 with 8192 MB: %v", err)
	}
}

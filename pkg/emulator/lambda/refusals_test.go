package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

const role = "arn:aws:iam::123456789012:role/fn"

func createInput(name, img string) *sdk.CreateFunctionInput {
	return &sdk.CreateFunctionInput{FunctionName: aws.String(name), Role: aws.String(role),
		PackageType: types.PackageTypeImage, Code: &types.FunctionCode{ImageUri: aws.String(img)}}
}

// A refused role answers Lambda's own 400 until the role exists.
func TestRefusedRoleUntilItExists(t *testing.T) {
	s, c, _ := start(t, Options{})
	ctx := context.Background()
	s.SetRefusals(Refusals{Roles: []string{role}})
	_, err := c.CreateFunction(ctx, createInput("fn", image))
	var ip *types.InvalidParameterValueException
	if !errors.As(err, &ip) || aws.ToString(ip.Message) != "The role defined for the function cannot be assumed by Lambda." {
		t.Fatalf("create with a refused role: %v, want InvalidParameterValueException", err)
	}
	if _, err := c.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String("fn")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("a refused create left a function: %v", err)
	}
	s.SetRefusals(Refusals{})
	create(t, c, "fn", image, nil)

	// UpdateFunctionConfiguration naming a refused role is refused alike.
	other := "arn:aws:iam::123456789012:role/other"
	s.SetRefusals(Refusals{Roles: []string{other}})
	_, err = c.UpdateFunctionConfiguration(ctx, &sdk.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"), Role: aws.String(other)})
	if !errors.As(err, &ip) || !strings.Contains(aws.ToString(ip.Message), "cannot be assumed") {
		t.Errorf("update to a refused role: %v", err)
	}
	if _, err := c.UpdateFunctionConfiguration(ctx, &sdk.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"), MemorySize: aws.Int32(256)}); err != nil {
		t.Errorf("an update that names no role: %v", err)
	}
}

// A missing image answers Lambda's own 400 until it is pushed, on create
// and on a code update.
func TestMissingImageUntilPushed(t *testing.T) {
	s, c, _ := start(t, Options{})
	ctx := context.Background()
	s.SetRefusals(Refusals{Images: []string{image}})
	_, err := c.CreateFunction(ctx, createInput("fn", image))
	var ip *types.InvalidParameterValueException
	if !errors.As(err, &ip) || aws.ToString(ip.Message) != "Source image "+image+" does not exist. Provide a valid source image." {
		t.Fatalf("create with a missing image: %v", err)
	}
	s.SetRefusals(Refusals{})
	create(t, c, "fn", image, nil)

	next := strings.TrimSuffix(image, ":1") + ":2"
	s.SetRefusals(Refusals{Images: []string{next}})
	_, err = c.UpdateFunctionCode(ctx, &sdk.UpdateFunctionCodeInput{FunctionName: aws.String("fn"), ImageUri: aws.String(next)})
	if !errors.As(err, &ip) || !strings.Contains(aws.ToString(ip.Message), next+" does not exist") {
		t.Errorf("update to a missing image: %v", err)
	}
	got, _ := c.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String("fn")})
	if got.Configuration.LastUpdateStatus != types.LastUpdateStatusSuccessful || aws.ToString(got.Code.ImageUri) != image {
		t.Errorf("a refused update changed the function: %s %s", got.Configuration.LastUpdateStatus, aws.ToString(got.Code.ImageUri))
	}
}

// A used-up quota refuses new functions with CodeStorageExceededException.
func TestQuotaExceededRefusesCreate(t *testing.T) {
	s, c, _ := start(t, Options{})
	ctx := context.Background()
	create(t, c, "existing", image, nil)
	s.SetRefusals(Refusals{QuotaExceeded: true})
	_, err := c.CreateFunction(ctx, createInput("fn", image))
	var cs *types.CodeStorageExceededException
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &cs) || aws.ToString(cs.Message) != "Code storage limit exceeded." || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
		t.Fatalf("create over the quota: %v, want 400 CodeStorageExceededException", err)
	}
	if _, err := c.CreateFunction(ctx, createInput("existing", image)); apiCode(err) != "ResourceConflictException" {
		t.Errorf("create of an existing function over the quota: %v, want 409 first", err)
	}
	s.SetRefusals(Refusals{})
	create(t, c, "fn", image, nil)
}

func TestRefusalsKnobOverHTTP(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	do := func(method, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+"/_emulator/refusals", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	get := func() Refusals {
		t.Helper()
		var r Refusals
		if err := json.NewDecoder(do(http.MethodGet, "").Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := get(); len(r.Roles) != 0 || len(r.Images) != 0 || r.QuotaExceeded {
		t.Errorf("initial refusals %+v, want none", r)
	}
	if resp := do(http.MethodPut, `{"plans": ["/subscriptions/s/plan"]}`); resp.StatusCode != http.StatusNoContent {
		t.Errorf("PUT with Azure's plans (one body for every cloud): %s, want 204", resp.Status)
	}
	if resp := do(http.MethodPut, `{"roles": ["`+role+`"], "images": ["`+image+`"], "quotaExceeded": true}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT: %s", resp.Status)
	}
	if r := get(); len(r.Roles) != 1 || r.Roles[0] != role || len(r.Images) != 1 || !r.QuotaExceeded {
		t.Errorf("after PUT: %+v", r)
	}
	if resp := do(http.MethodPut, `{"quota_exceeded": true}`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("PUT with an unknown key: %s, want 400", resp.Status)
	}
	if resp := do(http.MethodDelete, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %s", resp.Status)
	}
	if r := get(); len(r.Roles) != 0 || r.QuotaExceeded {
		t.Errorf("after DELETE: %+v", r)
	}
}

// While an update is in progress the previous environment serves; a code
// update that fails keeps the previous code.
func TestUpdatesRollInAfterTheyComplete(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)}
	_, c, _ := start(t, Options{UpdateDelay: time.Second, Now: clk.Now})
	ctx := context.Background()
	create(t, c, "fn", image, map[string]string{"EMULATOR_FAIL": "old config"})
	invoke := func() string {
		t.Helper()
		out, err := c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"n":1}`)})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.Payload)
	}
	if _, err := c.UpdateFunctionConfiguration(ctx, &sdk.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"),
		Environment: &types.Environment{Variables: map[string]string{}}}); err != nil {
		t.Fatal(err)
	}
	if got := invoke(); !strings.Contains(got, "old config") {
		t.Errorf("during the update the new environment served: %s", got)
	}
	clk.Advance(time.Second)
	if got := invoke(); got != `{"n":1}` {
		t.Errorf("after the update: %s, want the new environment", got)
	}

	bad := strings.TrimSuffix(image, ":1") + ":fail-create"
	if _, err := c.UpdateFunctionCode(ctx, &sdk.UpdateFunctionCodeInput{FunctionName: aws.String("fn"), ImageUri: aws.String(bad)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	got, _ := c.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String("fn")})
	if cfg := got.Configuration; cfg.State != types.StateActive || cfg.LastUpdateStatus != types.LastUpdateStatusFailed ||
		cfg.LastUpdateStatusReasonCode != types.LastUpdateStatusReasonCodeImageAccessDenied || aws.ToString(got.Code.ImageUri) != image {
		t.Errorf("failed update: %s %s %s image %s", cfg.State, cfg.LastUpdateStatus, cfg.LastUpdateStatusReasonCode, aws.ToString(got.Code.ImageUri))
	}
}

// Lambda does not run a multi-architecture index.
func TestMultiArchitectureIndexIsRefused(t *testing.T) {
	s, c, _ := start(t, Options{})
	s.SetRefusals(Refusals{Indexes: []string{image}})
	_, err := c.CreateFunction(context.Background(), createInput("fn", image))
	var ip *types.InvalidParameterValueException
	if !errors.As(err, &ip) || aws.ToString(ip.Message) != "The image manifest, config or layer media type for the source image "+image+" is not supported." {
		t.Fatalf("create from an index: %v", err)
	}
}

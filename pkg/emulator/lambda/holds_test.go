package lambda

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
)

// A CreateFunction whose answer is held has created the function while
// its caller waits; a caller that gives up (a killed node) and the answer
// dropped leave the function there, and the ledger says it was carried out
// with no answer. A DeleteFunction whose answer is lost (Fault.After) has
// deleted the function.
func TestHeldCreateAndLostDeleteAnswer(t *testing.T) {
	s, c, _ := start(t, Options{})
	id := s.Hold(faults.Hold{Op: "CreateFunction", Answer: true})
	ctx, kill := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.CreateFunction(ctx, &sdk.CreateFunctionInput{
			FunctionName: aws.String("fn"), Role: aws.String("arn:aws:iam::123456789012:role/fn"),
			PackageType: types.PackageTypeImage, Code: &types.FunctionCode{ImageUri: aws.String(image)},
		})
		done <- err
	}()
	wait, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.HoldState(wait, id)
	if err != nil || !st.Holding || st.Call.Name != "fn" || st.Call.Op != "CreateFunction" {
		t.Fatalf("hold = %+v %v", st, err)
	}
	if _, err := c.GetFunction(context.Background(), &sdk.GetFunctionInput{FunctionName: aws.String("fn")}); err != nil {
		t.Errorf("GetFunction while the create's answer is held: %v", err)
	}
	kill()
	if err := <-done; err == nil {
		t.Error("the killed caller got an answer")
	}
	if err := s.Release(id, true); err != nil {
		t.Fatal(err)
	}

	s.Inject(Fault{Op: "DeleteFunction", Status: 503, After: true})
	_, err = c.DeleteFunction(context.Background(), &sdk.DeleteFunctionInput{FunctionName: aws.String("fn")})
	var se *types.ServiceException
	if !errors.As(err, &se) {
		t.Errorf("a delete whose answer was lost: %v, want ServiceException", err)
	}
	_, err = c.GetFunction(context.Background(), &sdk.GetFunctionInput{FunctionName: aws.String("fn")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("GetFunction after the lost delete: %v, want ResourceNotFoundException", err)
	}
	got := s.Ledger(faults.LedgerQuery{Ops: []string{"CreateFunction", "DeleteFunction"}})
	if len(got) != 2 {
		t.Fatalf("ledger = %+v", got)
	}
	if e := got[0]; e.Name != "fn" || !e.Held || !e.Applied() || e.Status != 0 || !e.Dropped {
		t.Errorf("create = %+v: want carried out, held and dropped", e)
	}
	if e := got[1]; e.Name != "fn" || e.Status != 503 || !e.Fault || e.Work != 204 || !e.Applied() {
		t.Errorf("delete = %+v: want answered 503 and carried out (204)", e)
	}
}

// A process that sets AWS_SDK_UA_APP_ID (the SDK's AppID) is named by it
// in the ledger: two replicas of a node can be told apart; a harness
// client is never faulted.
func TestLedgerNamesTheCallerByItsAppID(t *testing.T) {
	s, _, _ := start(t, Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	client := func(app string) *sdk.Client {
		return sdk.New(sdk.Options{
			Region: DefaultRegion, BaseEndpoint: aws.String(ts.URL), AppID: app, RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(DefaultAccessKey, DefaultSecretKey, ""),
		})
	}
	s.SetChaos(&faults.Chaos{ServerErrorRate: 1})
	if _, err := client("replica-b").ListFunctions(context.Background(), &sdk.ListFunctionsInput{}); err == nil {
		t.Error("a node's call under chaos succeeded")
	}
	if _, err := client(faults.HarnessAgent).ListFunctions(context.Background(), &sdk.ListFunctionsInput{}); err != nil {
		t.Errorf("a harness call under chaos: %v", err)
	}
	got := s.Ledger(faults.LedgerQuery{Agent: "app/replica-b"})
	if len(got) != 1 || got[0].Op != "ListFunctions" || !got[0].Fault {
		t.Errorf("replica-b's calls = %+v", got)
	}
	if h := s.Ledger(faults.LedgerQuery{Agent: faults.HarnessAgent}); len(h) != 1 || !h[0].Harness || h[0].Fault {
		t.Errorf("harness calls = %+v", h)
	}
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	alibabaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	azureemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
	lambdaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
)

type emulatorOptions struct {
	alibabaListen   string
	alibabaAccel    time.Duration
	azureListen     string
	azureDelay      time.Duration
	lambdaListen    string
	activationDelay time.Duration
	updateDelay     time.Duration
	latency         time.Duration
	opLatency       map[string]string
	opRate          map[string]string
}

// newEmulatorCommand runs the cloud emulators on loopback so that the demo,
// the tests and developers' own tools can use them.
func newEmulatorCommand() *cobra.Command {
	o := &emulatorOptions{}
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run the local cloud emulators (AWS Lambda + CloudWatch Logs, Azure Resource Manager, Function Compute + Log Service) until interrupted",
		Long: `Runs protocol-faithful local emulators that the clouds' real SDKs can talk to.
It prints each endpoint and the static credentials that sign requests for it.
Emulated functions echo their payload; see the README for how to steer them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEmulator(cmd.Context(), o, cmd)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.lambdaListen, "lambda-listen", "127.0.0.1:9324", "address of the Lambda + CloudWatch Logs emulator")
	f.DurationVar(&o.activationDelay, "lambda-activation-delay", time.Second, "how long new functions stay Pending")
	f.DurationVar(&o.updateDelay, "lambda-update-delay", 500*time.Millisecond, "how long updates stay InProgress")
	f.StringVar(&o.azureListen, "azure-listen", "127.0.0.1:9325", "address of the Azure Resource Manager (Web Apps) emulator; empty: not started")
	f.DurationVar(&o.azureDelay, "azure-provision-delay", time.Second, "how long function app deployments run")
	f.StringVar(&o.alibabaListen, "alibaba-listen", "127.0.0.1:9326", "address of the Function Compute + Log Service emulator; empty: not started")
	f.DurationVar(&o.alibabaAccel, "alibaba-acceleration-delay", time.Second, "how long a new function's image acceleration stays Preparing")
	f.DurationVar(&o.latency, "latency", 0, "latency added to every request")
	f.StringToStringVar(&o.opLatency, "op-latency", nil, "latency of one operation, e.g. CreateFunction=200ms (repeatable; operation names as the cloud's API has them)")
	f.StringToStringVar(&o.opRate, "op-rate", nil, "calls per second an operation allows before answering 429 with Retry-After, e.g. CreateFunction=15 (repeatable)")
	return cmd
}

func runEmulator(ctx context.Context, o *emulatorOptions, cmd *cobra.Command) error {
	type server struct {
		srv *http.Server
		l   net.Listener
	}
	var servers []server
	listen := func(addr string, h http.Handler) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		servers = append(servers, server{&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, l})
		return l, nil
	}
	quotas, err := parseQuotas(o.opLatency, o.opRate)
	if err != nil {
		return err
	}
	lambda := lambdaemu.New(lambdaemu.Options{ActivationDelay: o.activationDelay, UpdateDelay: o.updateDelay, Latency: o.latency})
	lambda.SetQuotas(quotas)
	l, err := listen(o.lambdaListen, lambda)
	if err != nil {
		return fmt.Errorf("lambda emulator: %w", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "aws-lambda endpoint=http://%s region=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n",
		l.Addr(), lambdaemu.DefaultRegion, lambdaemu.DefaultAccessKey, lambdaemu.DefaultSecretKey)
	if o.azureListen != "" {
		azure := azureemu.New(azureemu.Options{ProvisionDelay: o.azureDelay, Latency: o.latency})
		azure.SetQuotas(quotas)
		l, err := listen(o.azureListen, azure)
		if err != nil {
			return fmt.Errorf("azure emulator: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "azure-functions endpoint=http://%s subscription=%s AZURE_ACCESS_TOKEN=%s\n",
			l.Addr(), azureemu.DefaultSubscription, azureemu.DefaultToken)
	}
	if o.alibabaListen != "" {
		fc := alibabaemu.New(alibabaemu.Options{AccelerationDelay: o.alibabaAccel, Latency: o.latency})
		fc.SetQuotas(quotas)
		l, err := listen(o.alibabaListen, fc)
		if err != nil {
			return fmt.Errorf("alibaba emulator: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "alibaba-fc endpoint=http://%[1]s logEndpoint=http://%[1]s logDialAddress=%[1]s region=%[2]s accountId=%[3]s ALIBABA_CLOUD_ACCESS_KEY_ID=%[4]s ALIBABA_CLOUD_ACCESS_KEY_SECRET=%[5]s\n",
			l.Addr(), alibabaemu.DefaultRegion, alibabaemu.DefaultAccountID, alibabaemu.DefaultAccessKeyID, alibabaemu.DefaultAccessKeySecret)
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.srv.Serve(s.l) }()
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.srv.Shutdown(sctx)
		}
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// parseQuotas reads --op-latency and --op-rate.
func parseQuotas(latency, perSecond map[string]string) (faults.Quotas, error) {
	q := faults.Quotas{LatencyMs: map[string]int{}, PerSecond: map[string]float64{}}
	for op, v := range latency {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return q, fmt.Errorf("--op-latency %s=%s: want a duration such as 200ms", op, v)
		}
		q.LatencyMs[op] = int(d.Milliseconds())
	}
	for op, v := range perSecond {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r <= 0 {
			return q, fmt.Errorf("--op-rate %s=%s: want calls per second, greater than 0", op, v)
		}
		q.PerSecond[op] = r
	}
	return q, nil
}

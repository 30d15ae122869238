package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	lambdaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
)

type emulatorOptions struct {
	lambdaListen    string
	activationDelay time.Duration
	updateDelay     time.Duration
	latency         time.Duration
}

// newEmulatorCommand runs the cloud emulators on loopback so that the demo,
// the tests and developers' own tools can use them.
func newEmulatorCommand() *cobra.Command {
	o := &emulatorOptions{}
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run the local cloud emulators (AWS Lambda + CloudWatch Logs) until interrupted",
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
	f.DurationVar(&o.latency, "latency", 0, "latency added to every request")
	return cmd
}

func runEmulator(ctx context.Context, o *emulatorOptions, cmd *cobra.Command) error {
	l, err := net.Listen("tcp", o.lambdaListen)
	if err != nil {
		return fmt.Errorf("lambda emulator: %w", err)
	}
	srv := &http.Server{Handler: lambdaemu.New(lambdaemu.Options{
		ActivationDelay: o.activationDelay, UpdateDelay: o.updateDelay, Latency: o.latency,
	}), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(cmd.OutOrStdout(), "aws-lambda endpoint=http://%s region=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n",
		l.Addr(), lambdaemu.DefaultRegion, lambdaemu.DefaultAccessKey, lambdaemu.DefaultSecretKey)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

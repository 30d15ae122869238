package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	alibabaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	azureemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
	lambdaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/tlsdir"
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
	tlsDir          string
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
Emulated functions echo their payload; see the README for how to steer them.

With --tls-dir the emulators answer over HTTPS, as the clouds' own tools
insist (Azure's SDKs and CLI send no bearer token over plain http). It
prints where the CA is and the variables that make Go programs and the AWS
CLI (SSL_CERT_FILE, AWS_CA_BUNDLE), the Azure CLI and Python
(REQUESTS_CA_BUNDLE) and Node (NODE_EXTRA_CA_CERTS) trust it. SSL_CERT_FILE
and the bundles replace the system's CAs rather than add to them: set them
only for tools that talk to the emulators.`,
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
	f.StringVar(&o.tlsDir, "tls-dir", "", "serve HTTPS with a CA and a certificate for the listen addresses kept in this directory (ca.crt, ca.key, tls.crt, tls.key; created, or reused while valid); empty: plain http")
	f.StringToStringVar(&o.opRate, "op-rate", nil, "calls per second an operation allows before answering 429 with Retry-After, e.g. CreateFunction=15 (repeatable)")
	return cmd
}

func runEmulator(ctx context.Context, o *emulatorOptions, cmd *cobra.Command) error {
	type server struct {
		srv *http.Server
		// addr is the address asked for; l.Addr() the one listened on.
		addr string
		l    net.Listener
		// describe is the line printed for the endpoint at base
		// (scheme://host:port) and listenAddr (host:port).
		describe func(base, listenAddr string) string
	}
	var servers []server
	listen := func(addr string, h http.Handler, describe func(base, listenAddr string) string) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		servers = append(servers, server{&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, addr, l, describe})
		return nil
	}
	defer func() {
		for _, s := range servers {
			_ = s.l.Close()
		}
	}()
	quotas, err := parseQuotas(o.opLatency, o.opRate)
	if err != nil {
		return err
	}
	lambda := lambdaemu.New(lambdaemu.Options{ActivationDelay: o.activationDelay, UpdateDelay: o.updateDelay, Latency: o.latency})
	lambda.SetQuotas(quotas)
	if err := listen(o.lambdaListen, lambda, func(base, _ string) string {
		return fmt.Sprintf("aws-lambda endpoint=%s region=%s AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s",
			base, lambdaemu.DefaultRegion, lambdaemu.DefaultAccessKey, lambdaemu.DefaultSecretKey)
	}); err != nil {
		return fmt.Errorf("lambda emulator: %w", err)
	}
	if o.azureListen != "" {
		azure := azureemu.New(azureemu.Options{ProvisionDelay: o.azureDelay, Latency: o.latency})
		azure.SetQuotas(quotas)
		if err := listen(o.azureListen, azure, func(base, _ string) string {
			return fmt.Sprintf("azure-functions endpoint=%s subscription=%s AZURE_ACCESS_TOKEN=%s", base, azureemu.DefaultSubscription, azureemu.DefaultToken)
		}); err != nil {
			return fmt.Errorf("azure emulator: %w", err)
		}
	}
	if o.alibabaListen != "" {
		fc := alibabaemu.New(alibabaemu.Options{AccelerationDelay: o.alibabaAccel, Latency: o.latency})
		fc.SetQuotas(quotas)
		if err := listen(o.alibabaListen, fc, func(base, listenAddr string) string {
			return fmt.Sprintf("alibaba-fc endpoint=%[1]s logEndpoint=%[1]s logDialAddress=%[2]s region=%[3]s accountId=%[4]s ALIBABA_CLOUD_ACCESS_KEY_ID=%[5]s ALIBABA_CLOUD_ACCESS_KEY_SECRET=%[6]s",
				base, listenAddr, alibabaemu.DefaultRegion, alibabaemu.DefaultAccountID, alibabaemu.DefaultAccessKeyID, alibabaemu.DefaultAccessKeySecret)
		}); err != nil {
			return fmt.Errorf("alibaba emulator: %w", err)
		}
	}
	out := cmd.OutOrStdout()
	scheme := "http"
	if o.tlsDir != "" {
		// The names asked for (--azure-listen myhost:9325) and the
		// addresses they resolved to are what clients dial.
		var hosts []string
		for _, s := range servers {
			if h, _, err := net.SplitHostPort(s.addr); err == nil {
				hosts = append(hosts, h)
			}
			hosts = append(hosts, s.l.Addr().(*net.TCPAddr).IP.String())
		}
		b, err := tlsdir.Ensure(tlsdir.Options{Dir: o.tlsDir, Hosts: hosts})
		if err != nil {
			return fmt.Errorf("--tls-dir: %w", err)
		}
		for _, s := range servers {
			s.srv.TLSConfig = b.ServerConfig()
		}
		scheme = "https"
		fmt.Fprintf(out, "tls ca=%s cert=%s key=%s (%s)\n", shellQuote(b.CAPath), shellQuote(b.CertPath), shellQuote(b.KeyPath), b.Outcome)
		ca := shellQuote(b.CAPath)
		fmt.Fprintf(out, "export SSL_CERT_FILE=%[1]s AWS_CA_BUNDLE=%[1]s REQUESTS_CA_BUNDLE=%[1]s NODE_EXTRA_CA_CERTS=%[1]s\n", ca)
	}
	for _, s := range servers {
		fmt.Fprintln(out, s.describe(scheme+"://"+s.l.Addr().String(), s.l.Addr().String()))
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			if s.srv.TLSConfig != nil {
				errc <- s.srv.ServeTLS(s.l, "", "")
				return
			}
			errc <- s.srv.Serve(s.l)
		}()
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

// shellQuote makes a path safe to paste into a POSIX shell.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@%,=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
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

// Command faas-kubelet runs virtual Kubernetes nodes whose pods are
// serverless functions.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/faas-kubelet/faas-kubelet/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cli.NewRootCommand(cli.Backends(os.Getenv), os.Getenv).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "faas-kubelet:", err)
		os.Exit(1)
	}
}

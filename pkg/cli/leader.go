package cli

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
)

// errLostLeadership ends a replica whose Lease was taken: it exits so that
// it starts again as a standby with nothing left over.
var errLostLeadership = errors.New("lost the leader election lease; exiting so another replica runs the nodes")

// lead runs run while this replica holds the Lease c names, and stands by
// until then. A clean stop (ctx ends) releases the Lease at once, so a
// standby takes over without waiting for it to expire.
func lead(ctx context.Context, client kubernetes.Interface, c config.LeaderElection, id string, pr *probes, run func(context.Context) error) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: c.Namespace, Name: c.Name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	logger := log.G(ctx).WithField("lease", c.Namespace+"/"+c.Name).WithField("identity", id)
	// The election runs on its own context, ended only once the nodes have
	// stopped and drained: the Lease is held until then, so no standby runs
	// the nodes while this replica still finishes invocations.
	electCtx, stopElection := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElection()
	var leading atomic.Bool
	done := make(chan error, 1)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   c.LeaseDuration.Duration,
		RenewDeadline:   c.RenewDeadline.Duration,
		RetryPeriod:     c.RetryPeriod.Duration,
		ReleaseOnCancel: true,
		Name:            c.Name,
		WatchDog:        pr.watchdogOrNil(),
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) {
				leading.Store(true)
				pr.setStandby(false)
				logger.Info("leading: running the nodes")
				nodesCtx, stopNodes := context.WithCancel(lctx)
				stop := context.AfterFunc(ctx, stopNodes)
				done <- run(nodesCtx)
				stop()
				stopNodes()
				stopElection() // release the Lease
			},
			OnStoppedLeading: func() {
				if leading.Load() {
					logger.Info("no longer leading")
				}
			},
			OnNewLeader: func(leader string) {
				if leader != id {
					logger.WithField("leader", leader).Info("standing by")
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	pr.setStandby(true)
	// A standby stops at once.
	unwatch := context.AfterFunc(ctx, func() {
		if !leading.Load() {
			stopElection()
		}
	})
	defer unwatch()
	// Run returns when the election is stopped (the Lease is released) or
	// when renewing the Lease fails; then the nodes' context is cancelled.
	elector.Run(electCtx)
	if !leading.Load() {
		return nil // stopped while standing by
	}
	if err := <-done; err != nil {
		return err
	}
	if ctx.Err() != nil {
		return nil
	}
	return errLostLeadership
}

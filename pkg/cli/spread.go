package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
)

// The replicas that run one config share its nodes: each node has a Lease
// of its own (leaseName), and each replica runs the nodes whose Lease it
// holds, at most its share, ⌈nodes / replicas alive⌉. A replica says it is
// alive with a Lease of its own too (a member Lease, labelled with the
// config's group), renewed every RetryPeriod; one whose member Lease has
// not changed for LeaseDuration is dead, and its nodes' Leases expire as
// its member Lease does, so the others take them over, within their
// share, LeaseDuration + RetryPeriod after it stopped renewing. A replica
// over its share (one joined) lets one node go each RetryPeriod (a clean
// stop releases the node's Lease at once) and does not take it back for
// LeaseDuration, so that the one under its share does. Kubernetes is the
// whole coordination: Leases, optimistic concurrency, and nothing else.

// labelGroup marks the member Leases of the replicas of one config.
const labelGroup = "faas-kubelet.io/replicas-of"

// errNoRoom refuses a node's Lease to a replica already running its share.
var errNoRoom = errors.New("this replica runs its share of the nodes")

// leaseName is the Lease of the config's node i: the first node's is the
// config's leaderElection.name (the one Lease of releases that ran every
// node under one leader), the others' faas-kubelet-<node>.
func leaseName(le config.LeaderElection, nodes []config.Node, i int) string {
	if i == 0 {
		return le.Name
	}
	return "faas-kubelet-" + nodes[i].Name
}

// share is how many of nodes a replica runs while alive replicas are.
func share(nodes, alive int) int {
	alive = max(alive, 1)
	return (nodes + alive - 1) / alive
}

// spreader runs this replica's share of the config's nodes.
type spreader struct {
	client kubernetes.Interface
	le     config.LeaderElection
	nodes  []config.Node
	id     string
	pr     *probes
	run    func(ctx context.Context, n *config.Node) error
	now    func() time.Time

	mu sync.Mutex
	// held counts the nodes this replica holds the Lease of (or is taking).
	held int
	// running are the running nodes' cancel functions, by index.
	running map[int]context.CancelFunc
	// order is the indexes of running in the order they were taken: the
	// last taken goes first when this replica is over its share.
	order []int
	// alive is the replicas alive, this one included (at least 1).
	alive int
	// legacy says a replica of an earlier release, which runs every node
	// under the first node's Lease, still holds it: no node is taken.
	legacy bool
	// shed is when this replica let each node go.
	shed map[int]time.Time
	// members are the member Leases seen: their last record and when it
	// last changed, on this replica's clock (as client-go judges Leases:
	// clocks of different machines are never compared).
	members map[string]observed
	first   observed
	failed  error
}

// observed is a Lease record and when this replica saw it change.
type observed struct {
	record string
	at     time.Time
}

func newSpreader(client kubernetes.Interface, le config.LeaderElection, nodes []config.Node, id string, pr *probes, run func(context.Context, *config.Node) error) *spreader {
	return &spreader{client: client, le: le, nodes: nodes, id: id, pr: pr, run: run, now: time.Now,
		running: map[int]context.CancelFunc{}, alive: 1, shed: map[int]time.Time{}, members: map[string]observed{}}
}

// spread runs the config's nodes over the replicas that run it, until ctx
// ends; it returns the first node's failure.
func (s *spreader) spread(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	s.pr.setStandby(true)
	// Who else runs the config is known before any node is taken.
	if err := s.beat(ctx); err != nil && ctx.Err() == nil {
		log.G(ctx).WithError(err).Warn("writing this replica's member Lease")
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.heartbeat(ctx) })
	for i := range s.nodes {
		wg.Go(func() {
			if err := s.runNode(ctx, i); err != nil {
				cancel(err)
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	s.forget()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// runNode takes node i's Lease when this replica has room for it, runs
// the node while it holds it, and lets it go when this replica is over its
// share or stops; then it stands by for the Lease again.
func (s *spreader) runNode(ctx context.Context, i int) error {
	n := &s.nodes[i]
	logger := log.G(ctx).WithField("lease", s.le.Namespace+"/"+leaseName(s.le, s.nodes, i)).WithField("node", n.Name)
	for ctx.Err() == nil {
		var reserved, leading bool
		lock := &gatedLock{Interface: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: s.le.Namespace, Name: leaseName(s.le, s.nodes, i)},
			Client:     s.client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: s.id},
		}, take: func() bool { reserved = s.reserve(i); return reserved }, untake: func() { s.unreserve(&reserved) }}
		// The election runs on its own context, ended only once the node
		// stopped: the Lease is held until then, so no other replica runs
		// the node while this one still drains it.
		electCtx, stopElection := context.WithCancel(context.WithoutCancel(ctx))
		var runErr error
		nodeDone := make(chan struct{})
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: s.le.LeaseDuration.Duration, RenewDeadline: s.le.RenewDeadline.Duration,
			RetryPeriod: s.le.RetryPeriod.Duration, ReleaseOnCancel: true, Name: lock.Describe(),
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					leading = true
					logger.Info("running the node: this replica holds its Lease")
					nodeCtx, stopNode := context.WithCancel(lctx)
					stop := context.AfterFunc(ctx, stopNode)
					s.started(i, stopNode)
					runErr = s.run(nodeCtx, n)
					s.stopped(i)
					stop()
					stopNode()
					close(nodeDone)
					stopElection() // release the Lease
				},
				OnStoppedLeading: func() {
					if leading {
						logger.Info("node stopped; its Lease is free for the replicas")
					}
				},
			},
		})
		if err != nil {
			stopElection()
			return fmt.Errorf("node %s: leader election: %w", n.Name, err)
		}
		unwatch := context.AfterFunc(ctx, func() {
			if !leading {
				stopElection()
			}
		})
		// Run returns once the Lease is released or could not be renewed;
		// the node may still be stopping then.
		elector.Run(electCtx)
		unwatch()
		if leading {
			<-nodeDone
		}
		stopElection()
		s.unreserve(&reserved)
		if runErr != nil && ctx.Err() == nil {
			return fmt.Errorf("node %s: %w", n.Name, runErr)
		}
	}
	return nil
}

// reserve takes room for node i, if this replica has it: under its share,
// no replica of an earlier release running every node, and not a node it
// let go within LeaseDuration.
func (s *spreader) reserve(i int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.legacy || s.held >= share(len(s.nodes), s.alive) {
		return false
	}
	if at, ok := s.shed[i]; ok && s.now().Sub(at) < s.le.LeaseDuration.Duration {
		return false
	}
	s.held++
	return true
}

func (s *spreader) unreserve(reserved *bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *reserved {
		s.held--
		*reserved = false
	}
}

func (s *spreader) started(i int, stop context.CancelFunc) {
	s.mu.Lock()
	s.running[i] = stop
	s.order = append(s.order, i)
	s.mu.Unlock()
	s.pr.setStandby(false)
	s.pr.nodeStarting(s.nodes[i].Name)
}

func (s *spreader) stopped(i int) {
	s.mu.Lock()
	delete(s.running, i)
	for k, j := range s.order {
		if j == i {
			s.order = append(s.order[:k], s.order[k+1:]...)
			break
		}
	}
	idle := len(s.running) == 0
	s.mu.Unlock()
	s.pr.nodeStopped(s.nodes[i].Name)
	if idle {
		s.pr.setStandby(true)
	}
}

// heartbeat renews this replica's member Lease every RetryPeriod, counts
// the replicas alive and lets a node go while this replica is over its
// share.
func (s *spreader) heartbeat(ctx context.Context) {
	t := time.NewTicker(s.le.RetryPeriod.Duration)
	defer t.Stop()
	for {
		if err := s.beat(ctx); err != nil && ctx.Err() == nil {
			log.G(ctx).WithError(err).Warn("renewing this replica's member Lease")
		}
		s.rebalance(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// group is the value of labelGroup for this config: its first node's
// Lease, hashed when it is longer than a label value may be.
func (s *spreader) group() string {
	if len(s.le.Name) <= 63 {
		return s.le.Name
	}
	sum := sha256.Sum256([]byte(s.le.Name))
	return "g-" + hex.EncodeToString(sum[:16])
}

// memberName is this replica's member Lease.
func (s *spreader) memberName() string {
	sum := sha256.Sum256([]byte(s.id))
	base := s.le.Name
	if len(base) > 200 {
		base = base[:200]
	}
	return base + "-replica-" + hex.EncodeToString(sum[:6])
}

// beat writes this replica's member Lease, reads the others' and the first
// node's, and counts the replicas alive.
func (s *spreader) beat(ctx context.Context) error {
	leases := s.client.CoordinationV1().Leases(s.le.Namespace)
	now := metav1.NewMicroTime(s.now())
	secs := int32(s.le.LeaseDuration.Seconds())
	own, err := leases.Get(ctx, s.memberName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		own = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: s.memberName(), Labels: map[string]string{labelGroup: s.group()}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &s.id, LeaseDurationSeconds: &secs, RenewTime: &now}}
		if _, err := leases.Create(ctx, own, metav1.CreateOptions{}); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		own.Spec.HolderIdentity, own.Spec.LeaseDurationSeconds, own.Spec.RenewTime = &s.id, &secs, &now
		if _, err := leases.Update(ctx, own, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	list, err := leases.List(ctx, metav1.ListOptions{LabelSelector: labelGroup + "=" + s.group()})
	if err != nil {
		return err
	}
	first, err := leases.Get(ctx, s.le.Name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	s.observe(list.Items, first)
	for _, l := range list.Items {
		if l.Name != s.memberName() && s.expiredLong(l) {
			// A member Lease of a replica gone long ago: nobody renews it.
			_ = leases.Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &l.ResourceVersion}})
		}
	}
	return nil
}

// observe counts the replicas whose member Lease changed within
// memberTimeout, and whether the first node's Lease is held, and renewed
// within LeaseDuration, by a replica without one (an earlier release's).
func (s *spreader) observe(members []coordinationv1.Lease, first *coordinationv1.Lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, d := s.now(), s.memberTimeout()
	seen := map[string]observed{}
	ids := map[string]bool{s.id: true}
	alive := 1
	for _, l := range members {
		rec := record(&l)
		o, ok := s.members[l.Name]
		if !ok || o.record != rec {
			o = observed{record: rec, at: now}
		}
		seen[l.Name] = o
		if l.Name == s.memberName() || now.Sub(o.at) >= d {
			continue
		}
		alive++
		if l.Spec.HolderIdentity != nil {
			ids[*l.Spec.HolderIdentity] = true
		}
	}
	s.members, s.alive = seen, alive
	s.legacy = false
	if first != nil && first.Spec.HolderIdentity != nil && *first.Spec.HolderIdentity != "" {
		if rec := record(first); rec != s.first.record {
			s.first = observed{record: rec, at: now}
		}
		s.legacy = !ids[*first.Spec.HolderIdentity] && now.Sub(s.first.at) < s.le.LeaseDuration.Duration
	}
}

// memberTimeout is how long a member Lease may go unchanged before its
// replica counts as gone: a RetryPeriod less than LeaseDuration (five
// renewals missed with the defaults), so that when a dead replica's node
// Leases expire the others already have room for its nodes. Counting a
// live replica gone only makes the others' share larger for a while: the
// node Leases still keep each node to one replica.
func (s *spreader) memberTimeout() time.Duration {
	return max(s.le.LeaseDuration.Duration-s.le.RetryPeriod.Duration, s.le.RetryPeriod.Duration)
}

// record is what changes when a Lease is renewed.
func record(l *coordinationv1.Lease) string {
	var holder, renew string
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	if l.Spec.RenewTime != nil {
		renew = l.Spec.RenewTime.UTC().Format(time.RFC3339Nano)
	}
	return holder + "@" + renew
}

// expiredLong says a member Lease has not changed for ten LeaseDurations.
func (s *spreader) expiredLong(l coordinationv1.Lease) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.members[l.Name]
	return ok && s.now().Sub(o.at) >= 10*s.le.LeaseDuration.Duration
}

// rebalance lets the node taken last go when this replica runs more than
// its share.
func (s *spreader) rebalance(ctx context.Context) {
	s.mu.Lock()
	over := len(s.running) - share(len(s.nodes), s.alive)
	var stop context.CancelFunc
	if over > 0 && len(s.order) > 0 {
		i := s.order[len(s.order)-1]
		stop, s.shed[i] = s.running[i], s.now()
		log.G(ctx).WithField("node", s.nodes[i].Name).WithField("replicas", s.alive).Info("running more than this replica's share of the nodes: letting one go")
	}
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// forget deletes this replica's member Lease as it stops, so the others
// count it gone at once.
func (s *spreader) forget() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.client.CoordinationV1().Leases(s.le.Namespace).Delete(ctx, s.memberName(), metav1.DeleteOptions{})
}

// gatedLock is a node's Lease that this replica takes only with room for
// the node (take): renewing and releasing it are never refused.
type gatedLock struct {
	resourcelock.Interface
	take   func() bool
	untake func()
	mu     sync.Mutex
	holder string // the holder of the record last read or written
}

func (g *gatedLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	r, raw, err := g.Interface.Get(ctx)
	if err == nil {
		g.mu.Lock()
		g.holder = r.HolderIdentity
		g.mu.Unlock()
	}
	return r, raw, err
}

func (g *gatedLock) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	return g.write(ctx, r, g.Interface.Create)
}

func (g *gatedLock) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	return g.write(ctx, r, g.Interface.Update)
}

// write takes room before a write that takes the Lease, and gives it back
// if the write fails.
func (g *gatedLock) write(ctx context.Context, r resourcelock.LeaderElectionRecord, do func(context.Context, resourcelock.LeaderElectionRecord) error) error {
	g.mu.Lock()
	taking := r.HolderIdentity == g.Identity() && g.holder != g.Identity()
	g.mu.Unlock()
	if taking && !g.take() {
		return errNoRoom
	}
	if err := do(ctx, r); err != nil {
		if taking {
			g.untake()
		}
		return err
	}
	g.mu.Lock()
	g.holder = r.HolderIdentity
	g.mu.Unlock()
	return nil
}

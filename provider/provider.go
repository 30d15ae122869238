package provider

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/log"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/faas-kubelet/faas-kubelet/pkg/metrics"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Options configure a Provider.
type Options struct {
	// NodeName is the virtual node this provider serves.
	NodeName string
	// Backend is the cloud behind the node.
	Backend Backend
	// Recorder receives events for pods; nil records nothing.
	Recorder record.EventRecorder
	// ServiceAccountAnnotations returns the annotations of a ServiceAccount
	// (for workload identity); nil means none.
	ServiceAccountAnnotations func(namespace, name string) map[string]string
	// AnnotatePod merges annotations into a pod (the function's URL is shown
	// there); nil shows nothing.
	AnnotatePod func(ctx context.Context, namespace, name string, annotations map[string]string) error
	// JobBackoff is the first wait before retrying a failed invocation under
	// restartPolicy OnFailure; it doubles up to a minute. Default 2s.
	JobBackoff time.Duration
	// ResyncInterval is how often stable functions are confirmed by a
	// paged listing. Default 60s.
	ResyncInterval time.Duration
	// PollInterval is how often the tracker looks at functions in
	// transition; each is then read with its own backoff.
	PollInterval time.Duration
	// ReconcileInterval is how often the pods' statuses as Pods has them
	// are compared with ours: a condition another controller wrote (a
	// readiness gate's) is taken in, and a status the node lifecycle
	// controller changed is reported again. Default 2s.
	ReconcileInterval time.Duration
	// Now returns the current time; tests set it.
	Now func() time.Time
	// Pods returns the pods bound to this node as the API server has them,
	// from an informer that has synced, and whether it could answer.
	// Orphaned functions are deleted only when it did (nil: never), and a
	// pod whose status there disagrees with ours (another controller
	// marked it not Ready while the node was unreachable) is reported again.
	Pods func() ([]*corev1.Pod, bool)
	// Pod returns the pod of that namespace and name bound to this node as
	// the same informer has it (nil: none) and whether it could answer: a
	// lookup by key, for checks made per pod (nil: Pods is scanned).
	Pod func(namespace, name string) (*corev1.Pod, bool)
	// PodIP is the address pods report: status.hostIP in every phase, and
	// status.podIP once the pod's function exists. It is the node's, where
	// its gateway serves the ports pods declare, so that a Service's
	// endpoints lead to the gateway. Empty: pods report no IP.
	PodIP string
	// Serving, if set, is called with the ports a pod declares before the
	// pod is reported Running, so that whatever serves them (the node's
	// gateway) is ready when the pod's Service sends traffic.
	Serving func(ports []int32)
	// IdentityGrants say which pods may name their own role, subnets or
	// security groups with annotations (see translate.CheckIdentity); none:
	// only the ServiceAccount's role.
	IdentityGrants []translate.IdentityGrant
	// UsageInterval is how often, at most, the cloud's usage figures are
	// read again for the resource metrics, when something asks for them;
	// 0 reads none.
	UsageInterval time.Duration
	// EnvSources are the ConfigMaps, Secrets and Services pods' env refer
	// to (the node's caches): the core resolves env as the kubelet does
	// (Virtual Kubelet runs with SkipDownwardAPIResolution); nil: none
	// exist.
	EnvSources translate.EnvSources
	// Allocatable is the node's allocatable resources, as its status
	// reports them: a resourceFieldRef to a cpu, memory or
	// ephemeral-storage limit a container does not set resolves to it.
	Allocatable corev1.ResourceList
	// ServiceAccountTokens gives the functions of pods that opt in their
	// ServiceAccount's token, refreshed as the kubelet refreshes it (see
	// token.go); nil: they get none, and a note says so.
	ServiceAccountTokens *ServiceAccountTokens
	// Clock times the graceful deletion of pods (their grace periods and
	// preStop sleeps, see terminate.go); tests set a fake one. Default
	// clock.RealClock{}.
	Clock clock.WithTicker
	// RemovePod deletes a pod from the API server at once (grace period 0,
	// only the pod of that UID), as the kubelet does once a terminating
	// pod's containers have stopped and its final status is written:
	// Virtual Kubelet itself waits out the whole grace period. nil: the pod
	// goes when Virtual Kubelet's grace period ends.
	RemovePod func(ctx context.Context, namespace, name string, uid types.UID) error
}

// AnnotationFunctionURL shows a pod's function endpoint (for a pod with a
// container port) on the pod.
const AnnotationFunctionURL = "faas-kubelet.io/function-url"

// AnnotationEnvFrom marks a pod whose env source (a Secret or ConfigMap)
// changed, with the object's new revision ("Secret/db@1234"): the change
// makes Virtual Kubelet resolve the pod's env again. It is not part of the
// function.
const AnnotationEnvFrom = "faas-kubelet.io/env-from"

// Backoff bounds for reading a function in transition. The first read comes
// after a second, about when a zip function turns Active, so most functions
// are confirmed by one read; it then doubles up to maxBackoff.
const (
	firstCheck = time.Second
	maxBackoff = 10 * time.Second
)

// Provider is the cloud-neutral core for one virtual node.
type Provider struct {
	opts    Options
	started time.Time

	mu   sync.Mutex
	pods map[types.UID]*podRecord
	// byName indexes pods by namespace/name (two pods of one name while a
	// StatefulSet's pod is replaced): Virtual Kubelet asks GetPod on every
	// sync, and a scan of every record under mu made each sync O(pods).
	byName map[string][]types.UID
	notify func(*corev1.Pod)
	// runCtx bounds background work (the tracker, Jobs); set by NotifyPods.
	runCtx context.Context
	// drainCtx carries invocations in flight and the recording of their
	// outcome past runCtx's end, until Drain gives up on them.
	drainCtx    context.Context
	stopDrain   context.CancelFunc
	invocations sync.WaitGroup

	usage usageBook
	// released: the node stopped and its pods no longer count in Tracked.
	released bool
}

// podRecord is what the core knows of one pod, keyed by the pod's UID.
type podRecord struct {
	pod        *corev1.Pod // with the status last reported
	function   string
	phase      translate.Phase
	state      *translate.FunctionState
	nextCheck  time.Time
	backoff    time.Duration
	jobRunning bool // this process runs the pod's invocation
	// reported is when the status was last handed to Virtual Kubelet.
	reported time.Time
	// deployed is the fingerprint of the function last deployed for the
	// pod: an update that leaves it unchanged (new annotations, a status
	// write) costs no call.
	deployed string
	// env is the digest of the environment last deployed.
	env string
	// waiting is set while the pod's function could not be created.
	waiting *waitingPod
	// deleting is set once DeletePod began: a retry that creates the
	// function after that deletes it again.
	deleting bool
	// spec is the pod as deployed (env resolved), kept only while its
	// function is Pending: a function that then fails for a cause outside
	// the pod is deployed again from it.
	spec *corev1.Pod
	// run is the pod's run-once attempts and active deadline (job.go).
	run jobRun
	// term is the pod's graceful deletion, once it began (terminate.go).
	term *termination
	// calls are the calls to the pod's function in flight (terminate.go).
	calls calls
}

// waitingPod is a pod whose function the cloud refused or the translation
// rejected. A kubelet keeps such a container Waiting and retries it with
// backoff; so does the core, and the pod is never failed for it, so that
// no controller replaces it in a loop.
type waitingPod struct {
	// pod is the pod as Virtual Kubelet handed it (env resolved), to deploy
	// again; nil for a spec error, which is never retried.
	pod *corev1.Pod
	// key identifies what was refused: the function's fingerprint, or the
	// translation's error. An update of the pod that changes it is tried
	// at once.
	key      string
	backoff  time.Duration
	next     time.Time
	inFlight bool
	// update: the function serves its previous version meanwhile, and the
	// pod stays Running.
	update bool
}

// tracked counts the pods every node of the process tracks.
var tracked atomic.Int64

// Tracked returns the number of pods the process's nodes track.
func Tracked() int { return int(tracked.Load()) }

var (
	_ nodeutil.Provider = (*Provider)(nil)
	_ node.PodNotifier  = (*Provider)(nil)
)

// New returns the core for one node.
func New(opts Options) (*Provider, error) {
	if opts.NodeName == "" || opts.Backend == nil {
		return nil, errors.New("provider: NodeName and Backend are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.JobBackoff == 0 {
		opts.JobBackoff = jobFirstBackoff
	}
	if opts.ResyncInterval == 0 {
		opts.ResyncInterval = time.Minute
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	if opts.ReconcileInterval == 0 {
		opts.ReconcileInterval = 2 * time.Second
	}
	if opts.Recorder == nil {
		opts.Recorder = &record.FakeRecorder{}
	}
	if opts.ServiceAccountAnnotations == nil {
		opts.ServiceAccountAnnotations = func(string, string) map[string]string { return nil }
	}
	drainCtx, stopDrain := context.WithCancel(context.Background())
	return &Provider{
		opts:      opts,
		started:   opts.Now(),
		pods:      map[types.UID]*podRecord{},
		byName:    map[string][]types.UID{},
		notify:    func(*corev1.Pod) {},
		runCtx:    context.Background(),
		drainCtx:  drainCtx,
		stopDrain: stopDrain,
	}, nil
}

// CreatePod deploys the pod's function and reports its status. The pod's
// env is resolved first, on a copy (see resolveEnv): the pod recorded is
// the one handed in. An env that does not resolve makes the pod wait
// (refuseEnv).
func (p *Provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	resolved, err := p.resolveEnv(pod)
	if err != nil {
		return p.refuseEnv(ctx, pod, err)
	}
	return p.deploy(ctx, resolved)
}

// UpdatePod redeploys the function when the pod asks for a different one (a
// new image updates the function's code). An update that changes nothing
// the function is made of, or one of a pod that has finished, only refreshes
// the pod's metadata: a finished pod never runs again, and Virtual Kubelet
// calls UpdatePod for every change of the pod object, our own annotations
// among them. A debug container (kubectl debug) is only shown in the
// status, never deployed (see ephemeral.go); a change of the container's
// resources is an in-place resize (see resize.go).
func (p *Provider) UpdatePod(ctx context.Context, pod *corev1.Pod) error {
	resolved, err := p.resolveEnv(pod)
	if err != nil {
		return p.refuseEnv(ctx, pod, err)
	}
	handed := resolved // with its debug containers, which only the status shows
	step := p.planResize(translate.WithoutEphemeralContainers(resolved))
	pod = step.pod // only metadata and the containers' names, images and ports are recorded
	fn, ferr := p.translate(pod)
	key := refusalKey(fn, ferr)
	p.mu.Lock()
	r, ok := p.pods[pod.UID]
	changed := false
	var events []podEvent
	if ok {
		// The pod carries the conditions others own as the API server has
		// them: every later report starts from those. The resize
		// conditions are the node's own, as last reported.
		ours := *r.pod.Status.DeepCopy()
		changed = p.adopt(r, pod)
		r.pod = r.pod.DeepCopy()
		translate.KeepResizeConditions(&r.pod.Status, ours)
		debug, evs := p.debugContainers(&r.pod.Status, r.pod.Status.EphemeralContainerStatuses, handed)
		asIs := ferr == nil && r.deployed != "" && r.deployed == fingerprint(fn)
		step.fn = fn
		resized, revs := p.settleResize(r, pod, &step, asIs)
		observed := r.pod.Status.ObservedGeneration < pod.Generation
		if observed {
			r.pod.Status.ObservedGeneration = pod.Generation
		}
		changed = changed || debug || resized || observed
		events = append(evs, revs...)
	}
	refresh := func() {
		refreshed := recorded(pod)
		refreshed.Status = *r.pod.Status.DeepCopy()
		r.pod = refreshed
		if changed {
			r.reported = p.opts.Now()
		}
	}
	if ok && r.waiting != nil && r.waiting.key == key {
		// Refused as it is: the retry (or nothing, for a spec error) goes
		// on; a new env or image is tried at once.
		refresh()
		if r.waiting.pod != nil {
			r.waiting.pod = pod.DeepCopy()
		}
		p.reportLocked(r, changed)
		p.emit(handed, events)
		return nil
	}
	if ok && (r.phase == translate.PhaseFailed || isFinished(r.pod) || ferr == nil && r.deployed != "" && r.deployed == fingerprint(fn)) {
		refresh()
		p.reportLocked(r, changed)
		p.emit(handed, events)
		return nil
	}
	before := ""
	if ok && step.apply {
		// A resize started shows before the function is deployed.
		before = r.deployed
		refresh()
		p.reportLocked(r, true)
	} else {
		p.mu.Unlock() // the deployment's report carries what changed
	}
	p.emit(handed, events)
	if err := p.deploy(ctx, pod); err != nil || !step.apply {
		return err
	}
	return p.finishResize(ctx, pod, step, before)
}

// adopt takes into r's status the conditions others own as api (the pod
// as the API server has it) shows them, and computes Ready again for the
// readiness gates; it reports whether our status changed. Called with
// p.mu held.
func (p *Provider) adopt(r *podRecord, api *corev1.Pod) bool {
	merged := translate.MergeConditions(r.pod, r.pod.Status, api.Status.Conditions, p.opts.Now())
	if apiequality.Semantic.DeepEqual(merged.Conditions, r.pod.Status.Conditions) {
		return false
	}
	r.pod = r.pod.DeepCopy()
	r.pod.Status = merged
	return true
}

// reportLocked releases p.mu and, if changed, reports r's status.
func (p *Provider) reportLocked(r *podRecord, changed bool) {
	if !changed {
		p.mu.Unlock()
		return
	}
	out := report(r.pod)
	notify := p.notify
	p.mu.Unlock()
	notify(out)
}

// translate is the function the pod asks for, refused (errdefs.InvalidInput
// naming the field) when no function can run it or its namespace may not
// choose the identity or network it names.
func (p *Provider) translate(pod *corev1.Pod) (*translate.Function, error) {
	sa := p.opts.ServiceAccountAnnotations(pod.Namespace, pod.Spec.ServiceAccountName)
	if err := translate.CheckIdentity(pod, sa, p.opts.IdentityGrants); err != nil {
		return nil, err
	}
	fn, err := translate.FromPod(pod, p.opts.NodeName, sa)
	if err != nil {
		return nil, err
	}
	if err := p.withServiceAccountToken(pod, fn); err != nil {
		return nil, err
	}
	return fn, nil
}

// isFinished says whether a pod has reached a terminal phase.
func isFinished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// fingerprint identifies what a function is made of. Of the annotations
// only faas-kubelet.io/ ones count (backends read no others), except the one
// faas-kubelet writes on the pod itself. A digest rather than the function:
// it is small, and env values (Secrets among them) are not kept.
func fingerprint(f *translate.Function) string {
	c := *f
	c.Annotations = make(map[string]string, len(f.Annotations))
	for k, v := range f.Annotations {
		if strings.HasPrefix(k, "faas-kubelet.io/") && k != AnnotationFunctionURL && k != AnnotationEnvFrom {
			c.Annotations[k] = v
		}
	}
	data, err := json.Marshal(c) // map keys in order
	if err != nil {
		return "" // never equal: the function is redeployed
	}
	sum := sha256.Sum256(data)
	return string(sum[:])
}

// envDigest identifies an environment without keeping its values.
func envDigest(env map[string]string) string {
	data, _ := json.Marshal(env) // map keys in order
	sum := sha256.Sum256(data)
	return string(sum[:])
}

func (p *Provider) deploy(ctx context.Context, pod *corev1.Pod) error {
	return p.deployAs(ctx, pod, nil)
}

// deployAs deploys the pod's function. retry is the record of a waiting
// pod whose deployment is tried again (nil for Virtual Kubelet's calls):
// its outcome is kept only while that record is still the pod's and the
// pod is not being deleted, and a function created too late is deleted.
func (p *Provider) deployAs(ctx context.Context, pod *corev1.Pod, retry *podRecord) error {
	name := translate.FunctionName(pod)
	ctx = log.WithLogger(ctx, log.G(ctx).WithFields(log.Fields{"pod": pod.Namespace + "/" + pod.Name, "uid": pod.UID, "function": name}))
	fn, err := p.translate(pod)
	var state *translate.FunctionState
	adopted := false
	if err == nil {
		state, adopted = p.adoptListed(pod, fn, retry)
	}
	restart := err == nil && !adopted && p.restarted(pod, retry)
	if err == nil && !adopted {
		state, err = p.opts.Backend.Deploy(ctx, fn)
		if err == nil && state.Phase == translate.PhaseFailed && IsRetriedReason(state.Reason) {
			// Created, but failed on something outside the pod (an image it
			// may not pull yet): wait and deploy again, as for a refusal.
			err = Refused(state.Reason, errors.New(state.Message))
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return err // the node is stopping; Virtual Kubelet syncs the pod again at the next start
		}
		p.refuse(ctx, pod, fn, err, retry)
		return nil
	}
	if fn != nil {
		state.Notes = append(append([]string(nil), fn.Notes...), state.Notes...)
	}
	state.Job = p.jobOnDeploy(ctx, pod, state)
	if adopted {
		log.G(ctx).Info("function adopted from the listing")
		metrics.FromContext(ctx).AdoptedFromListing()
	} else {
		log.G(ctx).WithField("phase", state.Phase).Info("function deployed")
	}
	if state.Endpoint != "" && pod.Annotations[AnnotationFunctionURL] != state.Endpoint && p.opts.AnnotatePod != nil {
		if err := p.opts.AnnotatePod(ctx, pod.Namespace, pod.Name, map[string]string{AnnotationFunctionURL: state.Endpoint}); err != nil {
			log.G(ctx).WithError(err).Warn("showing the function URL on the pod")
		} else {
			// The pods/status endpoint writes metadata too: the pod we
			// report carries the annotation, so that a status written
			// with this pod's metadata keeps it (the node's status writer
			// sends the cached pod's metadata instead, pkg/node).
			pod = pod.DeepCopy()
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[AnnotationFunctionURL] = state.Endpoint
		}
	}
	p.mu.Lock()
	previousEnv := ""
	if r, ok := p.pods[pod.UID]; ok {
		previousEnv = r.env
	}
	p.mu.Unlock()
	if !p.storeAs(pod, state, retry) {
		// The pod was deleted while its function was being created.
		log.G(ctx).Info("pod deleted while its function was created; deleting the function")
		if err := p.opts.Backend.Delete(ctx, name); err != nil {
			log.G(ctx).WithError(err).Warn("deleting the function of a deleted pod; the resync deletes it later")
		}
		return nil
	}
	if s, ok := p.opts.Backend.(Sealer); ok && restart && state.Unsealed && state.Phase == translate.PhaseActive {
		// Found whole and serving as the pod asks: the next restart
		// adopts it from the listing.
		if err := s.Seal(ctx, fn); err != nil {
			log.G(ctx).WithError(err).Info("recording the spec digest where the listing shows it")
		}
	}
	if !adopted {
		// An adopted function was deployed, and its pod told so, before
		// the restart: as a kubelet's restart, it says nothing new.
		for _, n := range state.Notes {
			p.opts.Recorder.Eventf(pod, corev1.EventTypeNormal, "FunctionNote", "%s", n)
		}
		p.opts.Recorder.Eventf(pod, corev1.EventTypeNormal, "FunctionDeployed", "function %s deployed to %s (%s)", name, p.opts.Backend.Cloud(), state.Phase)
	}
	env := envDigest(fn.Env)
	p.mu.Lock()
	if r, ok := p.pods[pod.UID]; ok {
		r.deployed, r.env = fingerprint(fn), env
		if r.phase == translate.PhasePending {
			r.spec = pod.DeepCopy()
		}
	}
	p.mu.Unlock()
	if previousEnv != "" && previousEnv != env {
		p.opts.Recorder.Eventf(pod, corev1.EventTypeNormal, "FunctionEnvUpdated", "function %s's environment updated (%d variables)", name, len(fn.Env))
	}
	return nil
}

// adoptListed adopts the pod's function from the backend's last listing
// (ListingAdopter), with no call, when that is safe: Virtual Kubelet
// creates a pod this process has no record of (a restart), the pod was
// Running (its function was deployed whole and served before), it runs
// for good (a run-once pod's progress is in tags a listing may not show),
// and a pod with a port shows its function's URL. Otherwise, or when the
// listing does not vouch for the function, the pod is deployed as usual.
func (p *Provider) adoptListed(pod *corev1.Pod, fn *translate.Function, retry *podRecord) (*translate.FunctionState, bool) {
	a, ok := p.opts.Backend.(ListingAdopter)
	if !ok || !p.restarted(pod, retry) {
		return nil, false
	}
	url := pod.Annotations[AnnotationFunctionURL]
	if len(fn.Ports) > 0 && url == "" {
		return nil, false
	}
	st, ok := a.AdoptListed(fn)
	if !ok || st.Phase != translate.PhaseActive {
		return nil, false
	}
	if len(fn.Ports) > 0 && st.Endpoint == "" {
		st.Endpoint = url
	}
	// The pod goes on as it was: its container's start and image, as the
	// API server shows them, stay (no status write for a restart).
	if since := runningSince(pod); !since.IsZero() {
		st.Created = since
	}
	if cs := pod.Status.ContainerStatuses; len(cs) > 0 && cs[0].ImageID != "" {
		st.ImageID = cs[0].ImageID
	}
	return st, true
}

// restarted says whether Virtual Kubelet hands in a pod that ran before
// this process knew it (a restart, or a node taken over): the pod was
// Running (its function was deployed whole and served), it runs for good (a
// run-once pod's progress is in tags a listing may not show), is not being
// deleted, and this process has no record of it.
func (p *Provider) restarted(pod *corev1.Pod, retry *podRecord) bool {
	if retry != nil || pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
		return false
	}
	if rp := pod.Spec.RestartPolicy; rp != "" && rp != corev1.RestartPolicyAlways {
		return false
	}
	p.mu.Lock()
	_, known := p.pods[pod.UID]
	p.mu.Unlock()
	return !known
}

// refuseUpdate handles a refused update of a function that serves: the
// cloud keeps running the previous version (as a kubelet keeps a running
// container whose new spec it cannot apply), so the pod stays Running and
// Ready and the update is tried again with backoff. It reports whether the
// pod's function serves.
func (p *Provider) refuseUpdate(ctx context.Context, pod *corev1.Pod, fn *translate.Function, err error, class Failure, reason string) bool {
	key := refusalKey(fn, err)
	if fn != nil {
		key = refusalKey(fn, nil)
	}
	p.mu.Lock()
	r, ok := p.pods[pod.UID]
	serving := ok && r.phase == translate.PhaseActive && !isFinished(r.pod) && (r.deployed != "" || r.waiting != nil && r.waiting.update)
	// After a restart, a pod the API server shows Running is one whose
	// function served until now.
	adopted := !ok && !translate.IsJob(pod) && pod.Status.Phase == corev1.PodRunning
	if !serving && !adopted {
		p.mu.Unlock()
		return false
	}
	if adopted {
		p.mu.Unlock()
		p.record(pod, &translate.FunctionState{Name: translate.FunctionName(pod), Phase: translate.PhaseActive, Created: runningSince(pod)}, nil, nil)
		p.mu.Lock()
		if r, ok = p.pods[pod.UID]; !ok {
			p.mu.Unlock()
			return true
		}
	}
	w := &waitingPod{key: key, backoff: retryFirst, update: true}
	if r.waiting != nil && r.waiting.key == key {
		w.backoff = min(r.waiting.backoff*2, retryMax)
	}
	w.next = p.opts.Now().Add(w.backoff)
	if class != FailureSpec {
		w.pod = pod.DeepCopy() // a spec error is not tried again
	}
	r.waiting, r.deployed = w, ""
	p.mu.Unlock()
	name := translate.FunctionName(pod)
	if class == FailureSpec {
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, ReasonInvalidSpec, "updating function %s: %v; the previous version keeps serving", name, err)
		return true
	}
	log.G(ctx).WithError(err).WithField("reason", reason).WithField("retryIn", w.backoff).Warn("function update not applied; the previous version serves; will retry")
	p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, "FunctionUpdateFailed", "updating function %s: %s: %v; the previous version keeps serving (retrying in %s)", name, reason, err, w.backoff)
	return true
}

// runningSince is when the pod's container started running, as the API
// server has it.
func runningSince(pod *corev1.Pod) time.Time {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running != nil {
			return cs.State.Running.StartedAt.Time
		}
	}
	return time.Time{}
}

// refusalKey identifies what a pod asks for, for comparing a refused pod
// with its update.
func refusalKey(fn *translate.Function, ferr error) string {
	if ferr != nil {
		return "invalid: " + ferr.Error()
	}
	return fingerprint(fn)
}

// refuse records a pod whose function could not be created: as a kubelet
// does for a container it cannot create, the pod stays Pending with the
// container Waiting and the reason, and is tried again with backoff. Only
// a spec error of a pod that nothing recreates in a loop (a run-once pod,
// whose Job counts the failure against its backoffLimit with a backoff of
// its own, or a bare pod) ends the pod Failed.
func (p *Provider) refuse(ctx context.Context, pod *corev1.Pod, fn *translate.Function, err error, retry *podRecord) {
	name := translate.FunctionName(pod)
	class, reason := Classify(err)
	if p.refuseUpdate(ctx, pod, fn, err, class, reason) {
		return
	}
	if class == FailureSpec {
		log.G(ctx).WithError(err).Warn("pod refused")
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, ReasonInvalidSpec, "%v", err)
		if translate.IsJob(pod) || metav1.GetControllerOf(pod) == nil {
			p.storeAs(pod, &translate.FunctionState{Name: name, Phase: translate.PhaseFailed, NotCreated: true, Reason: ReasonInvalidSpec, Message: err.Error()}, retry)
			return
		}
	}
	w := &waitingPod{backoff: retryFirst}
	if fn == nil {
		w.key = refusalKey(nil, err) // the translation refused it
	} else {
		w.key = refusalKey(fn, nil)
	}
	p.mu.Lock()
	if r, ok := p.pods[pod.UID]; ok && r.waiting != nil && r.waiting.key == w.key {
		w.backoff = min(r.waiting.backoff*2, retryMax)
	}
	p.mu.Unlock()
	w.next = p.opts.Now().Add(w.backoff)
	msg := err.Error()
	if class == FailureSpec {
		w.next = time.Time{}
	} else {
		w.pod = pod.DeepCopy()
		log.G(ctx).WithError(err).WithField("reason", reason).WithField("retryIn", w.backoff).Warn("function not created; will retry")
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, reason, "creating function %s: %s (retrying in %s)", name, msg, w.backoff)
	}
	if !p.storeWaiting(pod, &translate.FunctionState{Name: name, Phase: translate.PhasePending, NotCreated: true, Reason: reason, Message: msg}, w, retry) && retry != nil {
		log.G(ctx).Info("pod deleted while waiting for its function")
	}
}

// recorded is what the core keeps of a pod: its metadata, and of its spec
// what the status and the kubelet API are derived from (node, restart
// policy, readiness gates, container names, images and ports); store adds
// the status. Whole specs (env resolved from Secrets,
// resources, volumes) are not kept: Virtual Kubelet's informer holds them.
func recorded(pod *corev1.Pod) *corev1.Pod {
	out := &corev1.Pod{TypeMeta: pod.TypeMeta, ObjectMeta: *pod.ObjectMeta.DeepCopy()}
	out.ManagedFields = nil
	out.Spec.NodeName = pod.Spec.NodeName
	out.Spec.RestartPolicy = pod.Spec.RestartPolicy
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil {
		out.Spec.ActiveDeadlineSeconds = ptr.To(*d)
	}
	out.Spec.ServiceAccountName = pod.Spec.ServiceAccountName
	out.Spec.ReadinessGates = append([]corev1.PodReadinessGate(nil), pod.Spec.ReadinessGates...)
	out.Spec.Containers = make([]corev1.Container, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		out.Spec.Containers[i] = corev1.Container{Name: c.Name, Image: c.Image, Ports: c.Ports}
	}
	return out
}

// report is what Virtual Kubelet writes to the pods/status subresource, and
// keeps a copy of until the next report: metadata and status. The
// subresource takes nothing else (the API server resets spec and owner
// references), and the labels, annotations and finalizers sent are written.
func report(pod *corev1.Pod) *corev1.Pod {
	out := &corev1.Pod{TypeMeta: pod.TypeMeta, ObjectMeta: *pod.ObjectMeta.DeepCopy(), Status: *pod.Status.DeepCopy()}
	out.OwnerReferences, out.ManagedFields = nil, nil
	return out
}

// store records the pod with the function's state and reports the status.
func (p *Provider) store(pod *corev1.Pod, state *translate.FunctionState) {
	p.storeAs(pod, state, nil)
}

// storeWaiting records a pod whose function waits to be created.
func (p *Provider) storeWaiting(pod *corev1.Pod, state *translate.FunctionState, w *waitingPod, retry *podRecord) bool {
	return p.record(pod, state, w, retry)
}

// storeAs stores unless retry is set and is no longer the pod's record (or
// the pod is being deleted); it reports whether it stored.
func (p *Provider) storeAs(pod *corev1.Pod, state *translate.FunctionState, retry *podRecord) bool {
	return p.record(pod, state, nil, retry)
}

// record is store, with the pod's waiting state (nil: not waiting).
func (p *Provider) record(pod *corev1.Pod, state *translate.FunctionState, w *waitingPod, retry *podRecord) bool {
	updated := recorded(pod)
	host := translate.Host{Cloud: p.opts.Backend.Cloud(), IP: p.opts.PodIP}
	p.mu.Lock()
	r, ok := p.pods[pod.UID]
	if retry != nil && (!ok || r != retry || r.deleting) || ok && r.run.expired && state.Reason != translate.ReasonDeadlineExceeded {
		// A pod past its active deadline keeps the status that says so.
		p.mu.Unlock()
		return false
	}
	from := pod
	if ok {
		// The status last reported, with the conditions others own as we
		// last saw them in the API server (UpdatePod and the reconcile
		// keep them current): the pod handed in may be older (a retry's).
		from = &corev1.Pod{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec, Status: r.pod.Status}
	}
	updated.Status = translate.PodStatus(from, state, host, p.opts.Now())
	// What the function's state does not say: the debug containers, the
	// resources the function runs, the generation observed.
	_, events := p.debugContainers(&updated.Status, from.Status.EphemeralContainerStatuses, pod)
	events = append(events, p.allocateOnRecord(&updated.Status, from, pod, ok, state, w)...)
	updated.Status.ObservedGeneration = max(pod.Generation, from.Status.ObservedGeneration)
	if ok && r.term != nil {
		// A terminating pod stays not Ready whatever its function reports
		// meanwhile (a Job's outcome, a status read).
		updated.Status = translate.TerminatingStatus(&corev1.Pod{ObjectMeta: updated.ObjectMeta, Spec: updated.Spec, Status: updated.Status}, p.opts.Now())
	}
	if !ok {
		r = &podRecord{function: state.Name}
		p.pods[pod.UID] = r
		key := pod.Namespace + "/" + pod.Name
		p.byName[key] = append(p.byName[key], pod.UID)
		if !p.released {
			tracked.Add(1)
		}
	}
	previous := r.phase
	kept := *state // tags and notes are read once, at deploy
	kept.Tags, kept.Notes = nil, nil
	r.pod, r.phase, r.state = updated, state.Phase, &kept
	r.reported = p.opts.Now()
	r.waiting = w
	if state.Phase != translate.PhasePending || w != nil {
		r.spec = nil
	}
	if w != nil {
		r.deployed = ""
	}
	if state.Phase == translate.PhasePending && w == nil {
		r.backoff = firstCheck
		r.nextCheck = p.opts.Now().Add(firstCheck)
	}
	startJob := translate.IsJob(pod) && state.Phase == translate.PhaseActive && state.Job.State == "" && !r.jobRunning && r.term == nil
	if startJob {
		r.jobRunning = true
	}
	notify := p.notify
	p.mu.Unlock()
	if p.opts.Serving != nil && updated.Status.Phase == corev1.PodRunning {
		if ports := declaredPorts(updated); len(ports) > 0 {
			p.opts.Serving(ports)
		}
	}
	p.event(updated, previous, state)
	p.emit(updated, events)
	notify(report(updated))
	if startJob {
		go p.runJob(pod.UID, state.Name)
	}
	return true
}

// event tells the user when the function's phase changes.
func (p *Provider) event(pod *corev1.Pod, previous translate.Phase, st *translate.FunctionState) {
	if previous == st.Phase {
		return
	}
	switch st.Phase {
	case translate.PhaseActive:
		p.opts.Recorder.Eventf(pod, corev1.EventTypeNormal, "FunctionActive", "function %s is active", st.Name)
	case translate.PhaseFailed:
		if st.Reason != ReasonInvalidSpec {
			p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, "FunctionFailed", "function %s failed: %s: %s", st.Name, st.Reason, st.Message)
		}
	}
}

// DeletePod deletes the pod as a kubelet terminates it. A pod whose
// function serves and that has a grace period terminates in the
// background (see beginTermination): it stays Running but not Ready, its
// function takes no new call, its preStop hook runs and the calls in
// flight are waited for, then the function is deleted and the final
// status reported. Any other pod (grace period 0, or not in the API
// server any longer, or not running) has its function deleted at once and
// its final status reported; so does one already terminating when the
// grace period is 0, whose calls in flight are cut off. A DeletePod for a
// pod that terminates does not start a second termination.
func (p *Provider) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	r, ok := p.pods[pod.UID]
	if ok {
		r.deleting = true // a retry in flight deletes what it creates
		if p.beginTermination(ctx, r, pod, gracePeriod(pod)) {
			return nil
		}
	}
	if ok {
		log.G(ctx).WithFields(log.Fields{"phase": r.pod.Status.Phase, "gracePeriod": gracePeriod(pod)}).Debug("deleting the function at once")
	}
	p.mu.Unlock()
	if ok {
		p.kill(ctx, r, pod) // a termination under way ends now
	}
	return p.finish(ctx, pod, nil)
}

// GetPod returns the pod record for namespace/name.
func (p *Provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if uids := p.byName[namespace+"/"+name]; len(uids) > 0 {
		return p.pods[uids[len(uids)-1]].pod.DeepCopy(), nil // the newest
	}
	return nil, errdefs.NotFoundf("pod %s/%s is not known to node %s", namespace, name, p.opts.NodeName)
}

// GetPodStatus returns the status of namespace/name.
func (p *Provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod this node runs: the pods it knows, and for each
// function in the cloud that carries this node's tag but belongs to no known
// pod, a pod rebuilt from the function's owner tags. Virtual Kubelet deletes
// those whose pod no longer exists in the API server (after its informer has
// synced), which is how functions left behind while faas-kubelet was down are
// cleaned up; one whose pod exists is created again and so adopted.
func (p *Provider) GetPods(ctx context.Context) ([]*corev1.Pod, error) {
	listed, err := p.opts.Backend.List(ctx, p.opts.NodeName)
	if err != nil {
		return nil, fmt.Errorf("listing functions of node %s: %w", p.opts.NodeName, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(p.pods))
	known := map[types.UID]bool{}
	for uid, r := range p.pods {
		out = append(out, r.pod.DeepCopy())
		known[uid] = true
	}
	for _, f := range listed {
		uid := types.UID(f.Tags[translate.TagPodUID])
		if uid == "" || known[uid] || f.Tags[translate.TagPodName] == "" {
			continue
		}
		pod := &corev1.Pod{}
		pod.UID, pod.Namespace, pod.Name = uid, f.Tags[translate.TagPodNamespace], f.Tags[translate.TagPodName]
		if translate.FunctionName(pod) != f.Name {
			continue // not a name this node derived: never touch it
		}
		pod.Spec.NodeName = p.opts.NodeName
		out = append(out, pod)
	}
	return out, nil
}

// Drain waits, at most grace, for invocations in flight to finish and their
// outcome to be recorded, once the node has stopped (runCtx ended: no new
// attempt starts). Those still running after grace are cut off; their pods
// are reported "outcome unknown" by the next start (at-most-once). It
// returns whether everything finished.
func (p *Provider) Drain(grace time.Duration) bool {
	done := make(chan struct{})
	go func() { p.invocations.Wait(); close(done) }()
	defer p.stopDrain()
	select {
	case <-done:
		return true
	case <-time.After(grace):
		return false
	}
}

// Release stops counting the node's pods in Tracked, once the node has
// stopped (a core that starts again, after a leader handover, counts them
// anew).
func (p *Provider) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.released {
		p.released = true
		tracked.Add(-int64(len(p.pods)))
	}
}

// NotifyPods registers the callback that receives status changes and
// starts the status tracker, which runs until ctx ends.
func (p *Provider) NotifyPods(ctx context.Context, cb func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = cb
	p.runCtx = ctx
	p.mu.Unlock()
	metrics.FromContext(ctx).CountPods(p.countPods)
	metrics.FromContext(ctx).CountAwaiting(p.countAwaiting)
	go p.track(ctx)
}

// countAwaiting counts the pods whose function the tracker still reads.
func (p *Provider) countAwaiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.pods {
		if r.phase == translate.PhasePending && r.waiting == nil {
			n++
		}
	}
	return n
}

// countPods counts the pods this node runs by phase (for metrics).
func (p *Provider) countPods() map[string]int {
	out := map[string]int{string(corev1.PodPending): 0, string(corev1.PodRunning): 0, string(corev1.PodSucceeded): 0, string(corev1.PodFailed): 0}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.pods {
		out[string(r.pod.Status.Phase)]++
	}
	return out
}

func (p *Provider) notSupported(what string) error {
	return notSupportedError{NotSupportedf("%s: the %s backend of node %s does not offer it", what, p.opts.Backend.Cloud(), p.opts.NodeName)}
}

// AttachToContainer is not offered: functions have no console.
func (p *Provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return p.notSupported("attach")
}

// notSupportedError is a request the node cannot serve: the kubelet API
// answers it with 400 and the message, and errors.Is finds ErrNotSupported.
type notSupportedError struct{ error }

func (notSupportedError) InvalidInput() bool { return true }
func (e notSupportedError) Unwrap() error    { return e.error }

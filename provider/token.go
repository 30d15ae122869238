package provider

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/utils/clock"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// A pod that opts in (translate.ServiceAccountToken) is given its
// ServiceAccount's token as the kubelet gives it to a pod's projected
// volume: a TokenRequest bound to the pod, refreshed once 80% of its
// lifetime has passed or it is 24 hours old (the kubelet's token manager,
// pkg/kubelet/token). A function has no files, so the token, the CA and
// the API server's URL are variables of the function (translate's
// EnvKubernetes*), and a refresh is an update of the function's
// environment through UpdatePod, like any other change of it.
//
// The token is a secret: it is kept only here and in the function the
// core deploys, and never named in a log, an event, a note or an error.

// ReasonServiceAccountTokenError: the pod's ServiceAccount token could not
// be requested (the ServiceAccount does not exist, the node may not create
// tokens, the CA is missing); retried with backoff.
const ReasonServiceAccountTokenError = "ServiceAccountTokenError"

// The kubelet's token manager: a token is refreshed when 80% of its
// lifetime has passed or it is 24 hours old, less a jitter of up to 10 s
// so that tokens issued together are not all refreshed at once.
const (
	tokenMaxAge    = 24 * time.Hour
	tokenMaxJitter = 10 * time.Second
	// tokenRetry is when a refresh that failed while the token is still
	// valid is tried again (the kubelet tries again at the volume's next
	// remount, about every minute).
	tokenRetry = time.Minute
	// tokenRequestTimeout bounds one TokenRequest.
	tokenRequestTimeout = 30 * time.Second
)

// ServiceAccountTokens issues the ServiceAccount tokens of a node's pods
// that opt in. One value serves one Provider; its exported fields are set
// before it is handed to New and not changed after.
type ServiceAccountTokens struct {
	// Client creates the tokens (TokenRequest, serviceaccounts/token).
	Client corev1client.ServiceAccountsGetter
	// APIServer is the API server's URL as functions reach it.
	APIServer string
	// CA returns the PEM bundle that verifies APIServer's certificate for
	// a pod of namespace.
	CA func(namespace string) ([]byte, error)
	// Clock times refreshes; nil: the real clock.
	Clock clock.WithDelayedExecution

	jitter func() time.Duration // nil: up to tokenMaxJitter at random
	// refreshed, if set, is called when a due refresh has been handled
	// (tests).
	refreshed func(types.UID)

	mu     sync.Mutex
	tokens map[types.UID]*podToken
}

// podToken is the token of one pod.
type podToken struct {
	mu      sync.Mutex // held while its token is requested
	spec    translate.TokenSpec
	token   string
	expires time.Time
	refresh time.Time
	timer   clock.Timer
}

func (t *ServiceAccountTokens) clock() clock.WithDelayedExecution {
	if t.Clock == nil {
		return clock.RealClock{}
	}
	return t.Clock
}

func (t *ServiceAccountTokens) entry(uid types.UID, spec translate.TokenSpec) *podToken {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tokens == nil {
		t.tokens = map[types.UID]*podToken{}
	}
	e, ok := t.tokens[uid]
	if !ok || e.spec != spec {
		e = &podToken{spec: spec}
		t.tokens[uid] = e
	}
	return e
}

// forget drops a pod's token and its refresh.
func (t *ServiceAccountTokens) forget(uid types.UID) {
	t.mu.Lock()
	e := t.tokens[uid]
	delete(t.tokens, uid)
	t.mu.Unlock()
	if e != nil {
		e.mu.Lock()
		if e.timer != nil {
			e.timer.Stop()
		}
		e.mu.Unlock()
	}
}

// retry arms the pod's refresh again, in a while.
func (t *ServiceAccountTokens) retry(uid types.UID, in time.Duration, onDue func()) {
	t.mu.Lock()
	e := t.tokens[uid]
	t.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	e.schedule(t.clock(), in, onDue)
	e.mu.Unlock()
}

// count is how many pods have a token (for tests).
func (t *ServiceAccountTokens) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.tokens)
}

// token returns the pod's token, requesting one when it has none or its
// refresh is due. A refresh that fails while the token is still valid
// keeps it and is tried again later, as the kubelet does; then the
// function keeps its environment. onDue is called (on a goroutine of its
// own) when the next refresh is due.
func (t *ServiceAccountTokens) token(ctx context.Context, pod *corev1.Pod, spec translate.TokenSpec, onDue func()) (string, error) {
	e := t.entry(pod.UID, spec)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := t.clock().Now()
	if e.token != "" && now.Before(e.refresh) {
		return e.token, nil
	}
	tr, err := t.request(ctx, pod, spec)
	if err != nil {
		if e.token != "" && now.Before(e.expires) {
			// Not again before the retry: the pod is handed in often.
			e.refresh = minTime(now.Add(tokenRetry), e.expires)
			log.G(ctx).WithError(err).WithField("serviceAccount", spec.ServiceAccount).WithField("expires", e.expires).WithField("retry", e.refresh).Warn("ServiceAccount token not refreshed; the function keeps the one it has until it expires")
			e.schedule(t.clock(), e.refresh.Sub(now), onDue)
			return e.token, nil
		}
		return "", err
	}
	lifetime := time.Duration(spec.ExpirationSeconds) * time.Second
	if s := tr.Spec.ExpirationSeconds; s != nil && *s > 0 {
		lifetime = time.Duration(*s) * time.Second // as the API server granted it
	}
	e.token = tr.Status.Token
	e.expires = tr.Status.ExpirationTimestamp.Time
	issued := e.expires.Add(-lifetime)
	e.refresh = minTime(e.expires.Add(-lifetime/5), issued.Add(tokenMaxAge)).Add(-t.jitterOnce())
	e.schedule(t.clock(), e.refresh.Sub(now), onDue)
	log.G(ctx).WithField("serviceAccount", spec.ServiceAccount).WithField("expires", e.expires).WithField("refresh", e.refresh).Info("ServiceAccount token issued")
	return e.token, nil
}

// schedule arms the entry's one refresh timer. Called with e.mu held.
func (e *podToken) schedule(c clock.WithDelayedExecution, in time.Duration, onDue func()) {
	if e.timer != nil {
		e.timer.Stop()
	}
	// A fake clock runs the function while it holds its lock: do the work
	// elsewhere.
	e.timer = c.AfterFunc(max(in, 0), func() { go onDue() })
}

func (t *ServiceAccountTokens) jitterOnce() time.Duration {
	if t.jitter != nil {
		return t.jitter()
	}
	return time.Duration(rand.Float64() * float64(tokenMaxJitter))
}

// request creates a token for the pod's ServiceAccount, bound to the pod,
// as the kubelet asks for a projected volume's: the pod's audience (none:
// the API server's) and lifetime.
func (t *ServiceAccountTokens) request(ctx context.Context, pod *corev1.Pod, spec translate.TokenSpec) (*authenticationv1.TokenRequest, error) {
	ctx, cancel := context.WithTimeout(ctx, tokenRequestTimeout)
	defer cancel()
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &spec.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if spec.Audience != "" {
		req.Spec.Audiences = []string{spec.Audience}
	}
	tr, err := t.Client.ServiceAccounts(pod.Namespace).CreateToken(ctx, spec.ServiceAccount, req, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", pod.Namespace, spec.ServiceAccount, err)
	}
	if tr.Status.Token == "" || tr.Status.ExpirationTimestamp.IsZero() {
		return nil, fmt.Errorf("requesting a token for ServiceAccount %s/%s: the API server answered without a token", pod.Namespace, spec.ServiceAccount)
	}
	return tr, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// withServiceAccountToken adds the token variables to the function of a
// pod that opted in. A token that cannot be had refuses the pod for now
// (ReasonServiceAccountTokenError, retried with backoff); a node that
// gives no tokens says so in a note.
func (p *Provider) withServiceAccountToken(pod *corev1.Pod, fn *translate.Function) error {
	spec, ok := translate.ServiceAccountToken(pod)
	if !ok {
		return nil
	}
	t := p.opts.ServiceAccountTokens
	if t == nil {
		fn.Notes = append(fn.Notes, fmt.Sprintf("the pod asks for its ServiceAccount token, but node %s gives functions none (no serviceAccountTokens in its config)", p.opts.NodeName))
		return nil
	}
	p.mu.Lock()
	ctx := p.runCtx
	p.mu.Unlock()
	ctx = log.WithLogger(ctx, log.G(ctx).WithFields(log.Fields{"pod": pod.Namespace + "/" + pod.Name, "uid": pod.UID}))
	ca, err := t.CA(pod.Namespace)
	if err != nil {
		return Refused(ReasonServiceAccountTokenError, fmt.Errorf("the CA for the ServiceAccount token: %w", err))
	}
	uid := pod.UID
	token, err := t.token(ctx, pod, spec, func() { p.refreshToken(uid) })
	if err != nil {
		return Refused(ReasonServiceAccountTokenError, err)
	}
	env := make(map[string]string, len(fn.Env)+3)
	var replaced []string
	for k, v := range fn.Env {
		switch k {
		case translate.EnvKubernetesToken, translate.EnvKubernetesCAData, translate.EnvKubernetesAPIServer:
			replaced = append(replaced, k)
		default:
			env[k] = v
		}
	}
	env[translate.EnvKubernetesToken] = token
	env[translate.EnvKubernetesCAData] = base64.StdEncoding.EncodeToString(ca)
	env[translate.EnvKubernetesAPIServer] = t.APIServer
	fn.Env = env
	if len(replaced) > 0 {
		slices.Sort(replaced)
		fn.Notes = append(fn.Notes, fmt.Sprintf("the pod's own %s are replaced by the node's (its ServiceAccount token)", strings.Join(replaced, ", ")))
	}
	return nil
}

// refreshToken hands the pod to UpdatePod once its token's refresh is due,
// as Virtual Kubelet hands in a pod that changed: the translation takes a
// new token, and the function's environment is updated. A pod that is
// gone or has finished has its token forgotten.
func (p *Provider) refreshToken(uid types.UID) {
	t := p.opts.ServiceAccountTokens
	if t.refreshed != nil {
		defer t.refreshed(uid)
	}
	p.mu.Lock()
	r, ok := p.pods[uid]
	done := ok && (r.deleting || isFinished(r.pod) || r.phase == translate.PhaseFailed)
	ctx := p.runCtx
	p.mu.Unlock()
	if ctx.Err() != nil {
		return // the node stopped; a new start issues new tokens
	}
	if !ok || done {
		t.forget(uid)
		return
	}
	var pods []*corev1.Pod
	synced := false
	if p.opts.Pods != nil {
		pods, synced = p.opts.Pods()
	}
	for _, pod := range pods {
		if pod.UID == uid {
			if err := p.UpdatePod(ctx, pod.DeepCopy()); err != nil {
				log.G(ctx).WithError(err).WithField("pod", pod.Namespace+"/"+pod.Name).Warn("refreshing the ServiceAccount token")
			}
			return
		}
	}
	if synced {
		t.forget(uid) // the API server no longer has the pod
		return
	}
	// The pods cannot be listed yet: try again in a while.
	t.retry(uid, tokenRetry, func() { p.refreshToken(uid) })
}

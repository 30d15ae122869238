//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	azureemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
)

// The realistic scenario runs the path real clouds take on each of the
// three: creating a function takes 200 ms and it stays Pending 2 s (Lambda
// State Pending, an Azure deployment running) before faas-kubelet's tracker
// sees it Active and reports the pod Running; on Function Compute the image
// acceleration stays Preparing 2 s, which does not hold the pod back. faas-kubelet runs with its shipped defaults but
// limits.qps 0, as in the main scenario: the emulator has no quota here, and
// queueing behind a quota is the throttled scenario's subject.

const (
	realisticCreate  = 200 * time.Millisecond
	realisticPending = 2 * time.Second
)

// realisticRun is what one cloud's realistic run measured.
type realisticRun struct {
	Cloud string `json:"cloud"`
	Pods  int    `json:"pods"`
	// From the pod's create returning to the API server completing the
	// status write that made it Running (audit log).
	P50CreatedMs float64 `json:"p50CreatedToRunningMs"`
	P99CreatedMs float64 `json:"p99CreatedToRunningMs"`
	// From the function turning Active (its creation in the cloud, as the
	// cloud records it, plus the Pending time) to the same status write.
	P50ActiveMs float64            `json:"p50ActiveToRunningMs"`
	P99ActiveMs float64            `json:"p99ActiveToRunningMs"`
	CallsPerPod map[string]float64 `json:"callsPerPod"`
	Calls       float64            `json:"callsPerPodTotal"`
}

// notPerPod are the calls made per listing or per health interval, not per
// pod.
var notPerPod = map[string]bool{"GetAccountSettings": true, "ListFunctions": true, "ListServices": true, "ListBySubscription": true, "ListByResourceGroup": true}

func benchRealistic(t *testing.T, n int) []realisticRun {
	emu := startEmulator(t, "--lambda-activation-delay", realisticPending.String(), "--azure-provision-delay", realisticPending.String(),
		"--alibaba-acceleration-delay", realisticPending.String(),
		"--op-latency", "CreateFunction="+realisticCreate.String(), "--op-latency", "CreateOrUpdate="+realisticCreate.String())
	var out []realisticRun
	for _, cl := range clouds {
		t.Run(cl.name, func(t *testing.T) {
			out = append(out, benchRealisticCloud(t, emu, cl, n))
		})
	}
	return out
}

func benchRealisticCloud(t *testing.T, emu *emulator, cl cloudUnderTest, n int) realisticRun {
	k := startKubelet(t, kubeletOptions{cloud: cl.name, lambdaEndpoint: emu.endpoint, azureEndpoint: emu.azureEndpoint, alibabaEndpoint: emu.alibabaEndpoint,
		pods: 2 * n, logLevel: "info", resync: "1m", health: "10s", nodeExtra: "  limits: {qps: 0}\n"})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	before := emu.callsOf(t, cl.name)
	c := benchClient(t)
	ns := namespace(t)
	rw := watchRunning(t, c, ns, n)
	var created sync.Map // pod name → when its create returned
	parallel(n, 32, func(i int) {
		pod, err := c.CoreV1().Pods(ns).Create(context.Background(), boundPodOf(ns, k.node, cl.image, i), metav1.CreateOptions{})
		if err != nil {
			t.Errorf("create: %v", err)
			return
		}
		created.Store(pod.Name, time.Now())
	})
	select {
	case <-rw.done:
	case <-time.After(10 * time.Minute):
		t.Fatalf("%s: only %d of %d pods Running after 10 min", cl.name, len(rw.at), n)
	}
	pods := listPods(t, ns, "app=bench")
	written := auditRunning(t, ns, len(pods))
	active, reads := activeTimes(t, emu, cl.name, pods)
	var fromCreated, fromActive []float64
	for _, p := range pods {
		w, ok := written[p.Name]
		if !ok {
			continue
		}
		if at, ok := created.Load(p.Name); ok {
			fromCreated = append(fromCreated, float64(w.Sub(at.(time.Time)).Milliseconds()))
		}
		if at, ok := active[p.Name]; ok {
			fromActive = append(fromActive, float64(w.Sub(at).Milliseconds()))
		}
	}
	sort.Float64s(fromCreated)
	sort.Float64s(fromActive)
	if len(fromActive) < len(pods) {
		t.Errorf("%s: the cloud's creation time of %d of %d functions could not be read", cl.name, len(pods)-len(fromActive), len(pods))
	}

	parallel(n, 32, func(i int) {
		if err := c.CoreV1().Pods(ns).Delete(context.Background(), fmt.Sprintf("bench-%05d", i), metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete: %v", err)
		}
	})
	waitNoPods(t, c, ns, cl.name, 100*time.Millisecond)
	r := realisticRun{Cloud: cl.name, Pods: n, CallsPerPod: map[string]float64{},
		P50CreatedMs: percentile(fromCreated, 0.50), P99CreatedMs: percentile(fromCreated, 0.99),
		P50ActiveMs: percentile(fromActive, 0.50), P99ActiveMs: percentile(fromActive, 0.99)}
	// Deletion is done in the cloud once the pod is gone; the counters
	// include the whole lifetime.
	for op, v := range emu.callsOf(t, cl.name) {
		if d := v - before[op] - reads[op]; d > 0 && !notPerPod[op] {
			r.CallsPerPod[op] = float64(d) / float64(n)
			r.Calls += float64(d) / float64(n)
		}
	}
	return r
}

// activeTimes reads when each pod's function turned Active: when the cloud
// created it, as the cloud records it, plus the Pending time on Lambda and
// Azure. That is the earliest the function could be Active, so the figure
// never flatters faas-kubelet. A Function Compute 2.0 function has no
// Pending state: it is invoked as soon as CreateFunction returns, its image
// acceleration Preparing meanwhile (invocations use the original image), so
// its Active time is its creation. reads counts the harness's own calls, by
// operation.
func activeTimes(t *testing.T, emu *emulator, cloud string, pods []corev1.Pod) (map[string]time.Time, map[string]int) {
	t.Helper()
	const layout = "2006-01-02T15:04:05.000-0700" // Lambda's LastModified, FC's createdTime
	out, reads := map[string]time.Time{}, map[string]int{}
	for i := range pods {
		name := functionNameOf(&pods[i])
		var at time.Time
		var err error
		switch cloud {
		case "aws-lambda":
			reads["GetFunction"]++
			var f *sdk.GetFunctionOutput
			if f, err = emu.lambda.GetFunction(context.Background(), &sdk.GetFunctionInput{FunctionName: aws.String(name)}); err == nil {
				at, err = time.Parse(layout, aws.ToString(f.Configuration.LastModified))
			}
		case "alibaba-fc":
			reads["GetFunction"]++
			var f *fc.GetFunctionResponse
			if f, err = emu.fc.GetFunctionWithOptions(tea.String(name), tea.String(name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, &util.RuntimeOptions{}); err == nil {
				at, err = time.Parse(layout, tea.StringValue(f.Body.CreatedTime))
			}
		case "azure-functions":
			reads["GetWebSiteContainerLogs"]++
			at, err = siteDeployedAt(emu, name)
		}
		if err != nil {
			t.Logf("%s: reading when %s was created: %v", cloud, name, err)
			continue
		}
		if cloud != "alibaba-fc" {
			at = at.Add(realisticPending)
		}
		out[pods[i].Name] = at
	}
	return out, reads
}

// siteDeployedAt reads from an Azure app's container log (the App Service
// log the portal shows) when its first deployment started.
func siteDeployedAt(emu *emulator, name string) (time.Time, error) {
	url := fmt.Sprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/sites/%s/containerlogs?api-version=%s",
		emu.azureEndpoint, azureemu.DefaultSubscription, e2eResourceGroup, name, azureemu.APIVersion)
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	req.Header.Set("Authorization", "Bearer "+azureemu.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, fmt.Errorf("containerlogs: HTTP %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		stamp, rest, _ := strings.Cut(sc.Text(), " ")
		if strings.HasPrefix(rest, "Site "+name+" deployed") {
			return time.Parse(time.RFC3339Nano, stamp)
		}
	}
	return time.Time{}, fmt.Errorf("no deployment in its log")
}

package azure

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Settings the Functions host needs, set on every app.
const (
	settingExtensionVersion = "FUNCTIONS_EXTENSION_VERSION"
	// functionsVersion is the Functions host major version the apps run.
	functionsVersion        = "4"
	settingAppStorage       = "WEBSITES_ENABLE_APP_SERVICE_STORAGE"
	settingStorage          = "AzureWebJobsStorage"
	settingPort             = "WEBSITES_PORT"
	settingRegistryURL      = "DOCKER_REGISTRY_SERVER_URL"
	settingRegistryUser     = "DOCKER_REGISTRY_SERVER_USERNAME"
	settingRegistryPassword = "DOCKER_REGISTRY_SERVER_PASSWORD"
	// settingHostID overrides the Functions host ID, which is otherwise
	// the first 32 characters of the app's name.
	settingHostID = "AzureFunctionsWebHost__hostid"
	// maxHostID is the longest host ID; hostIDHash is how many hex digits
	// of the name's hash end it.
	maxHostID, hostIDHash = 32, 12
	maxTagValue           = 256
	maxTags               = 50
	// settingFunctionTimeout overrides host.json's functionTimeout.
	settingFunctionTimeout = "AzureFunctionsJobHost__functionTimeout"
	// maxHTTPResponse is how long an HTTP trigger may take to answer,
	// whatever the function timeout: App Service's front end (Azure Load
	// Balancer's idle timeout) answers the call itself after it.
	maxHTTPResponse = 230
)

// AnnotationTimeout is the function's timeout in seconds (host.json's
// functionTimeout, set through the app setting that overrides it).
const AnnotationTimeout = "faas-kubelet.io/timeout"

// functionTimeout reads the pod's timeout annotation: every call this
// backend makes (an invocation, a Job's run, an HTTP request) goes through
// the app's HTTP trigger, which Azure cuts at 230 seconds whatever the
// function timeout, so a longer timeout is refused rather than promised.
func functionTimeout(fn *translate.Function) (string, error) {
	v, ok := fn.Annotations[AnnotationTimeout]
	if d := fn.ActiveDeadlineSeconds; d > maxHTTPResponse {
		return "", errdefs.InvalidInputf("spec.activeDeadlineSeconds: %d seconds, but Azure Functions answers an HTTP-triggered call, "+
			"which a Job's run on this node is, within %d seconds whatever the function timeout: set it to at most %d", d, maxHTTPResponse, maxHTTPResponse)
	} else if d > 0 && !ok {
		v, ok = strconv.FormatInt(d, 10), true // the deadline is the run's timeout
	}
	if !ok {
		return "", nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > maxHTTPResponse {
		return "", errdefs.InvalidInputf("metadata.annotations[%s]: must be 1-%d seconds, got %q: Azure Functions answers an HTTP-triggered call, "+
			"which every invocation and Job run of this node is, within %d seconds whatever the function timeout", AnnotationTimeout, maxHTTPResponse, v, maxHTTPResponse)
	}
	return fmt.Sprintf("%02d:%02d:%02d", n/3600, n/60%60, n%60), nil
}

// siteFor maps a function to a container function app.
func siteFor(fn *translate.Function, o *Options) (armappservice.Site, error) {
	if strings.Contains(fn.Image, "|") {
		return armappservice.Site{}, errdefs.InvalidInputf("spec.containers[0].image: %q contains '|', which Azure's linuxFxVersion cannot carry", fn.Image)
	}
	settings := map[string]string{}
	env, _ := fn.EnvWithin(math.MaxInt, func(map[string]string) int { return 0 }) // app settings have room for the Service links
	for k, v := range env {
		settings[k] = v
	}
	for _, reserved := range []string{settingExtensionVersion, settingAppStorage, settingStorage, settingRegistryURL, settingRegistryUser, settingRegistryPassword} {
		if _, ok := settings[reserved]; ok {
			return armappservice.Site{}, errdefs.InvalidInputf("spec.containers[0].env[%s]: this setting is managed by the node", reserved)
		}
	}
	for k := range settings {
		if strings.EqualFold(k, settingHostID) || strings.EqualFold(k, "AzureFunctionsWebHost:hostid") {
			return armappservice.Site{}, errdefs.InvalidInputf("spec.containers[0].env[%s]: the Functions host ID is managed by the node (each app needs its own on the node's storage account)", k)
		}
	}
	for k := range settings {
		if strings.EqualFold(k, settingFunctionTimeout) {
			return armappservice.Site{}, errdefs.InvalidInputf("spec.containers[0].env[%s]: set the function timeout with the annotation %s", k, AnnotationTimeout)
		}
	}
	timeout, err := functionTimeout(fn)
	if err != nil {
		return armappservice.Site{}, err
	}
	if timeout != "" {
		settings[settingFunctionTimeout] = timeout
	}
	settings[settingExtensionVersion] = "~" + functionsVersion
	settings[settingHostID] = hostIDFor(fn.Name)
	settings[settingAppStorage] = "false"
	if o.StorageConnection != "" {
		settings[settingStorage] = o.StorageConnection
	}
	if o.RegistryServer != "" {
		settings[settingRegistryURL] = "https://" + strings.TrimPrefix(o.RegistryServer, "https://")
		if o.RegistryUsername != "" {
			settings[settingRegistryUser] = o.RegistryUsername
			settings[settingRegistryPassword] = o.RegistryPassword
		}
	}
	if len(fn.Ports) > 0 {
		settings[settingPort] = strconv.Itoa(int(fn.Ports[0]))
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var appSettings []*armappservice.NameValuePair
	for _, k := range keys {
		appSettings = append(appSettings, &armappservice.NameValuePair{Name: to.Ptr(k), Value: to.Ptr(settings[k])})
	}
	cfg := &armappservice.SiteConfig{
		LinuxFxVersion: to.Ptr("DOCKER|" + fn.Image),
		AppSettings:    appSettings,
	}
	if cmd := strings.Join(append(append([]string{}, fn.Command...), fn.Args...), " "); cmd != "" {
		cfg.AppCommandLine = to.Ptr(cmd)
	}
	if o.RegistryUseManagedIdentity {
		cfg.AcrUseManagedIdentityCreds = to.Ptr(true)
	}
	props := &armappservice.SiteProperties{Reserved: to.Ptr(true), SiteConfig: cfg}
	if o.ManagedEnvironmentID != "" {
		props.ManagedEnvironmentID = to.Ptr(o.ManagedEnvironmentID)
	} else {
		props.ServerFarmID = to.Ptr(o.ServerFarmID)
	}
	tags, _ := tagsFor(fn)
	return armappservice.Site{
		Location:   to.Ptr(o.Location),
		Kind:       to.Ptr("functionapp,linux,container"),
		Tags:       encodeTags(tags),
		Properties: props,
	}, nil
}

// Azure tag names cannot contain '/', which every Kubernetes label prefix
// and faas-kubelet's own identity tags have; it is stored as ':' (which
// label keys cannot contain), so the mapping is reversible.
func encodeTags(tags map[string]string) map[string]*string {
	out := make(map[string]*string, len(tags))
	for k, v := range tags {
		if len(v) > maxTagValue {
			v = v[:maxTagValue]
		}
		out[encodeKey(k)] = to.Ptr(v)
	}
	return out
}

// encodeKey is a tag name as Azure stores it (see encodeTags).
func encodeKey(k string) string { return strings.ReplaceAll(k, "/", ":") }

func decodeTags(tags map[string]*string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[strings.ReplaceAll(k, ":", "/")] = str(v)
	}
	return out
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// hostIDFor is the Functions host ID of the app name: the host derives it
// from the first 32 characters of the name, which long pod names share
// (the part that tells pods apart, the UID's hash, comes last), and in
// Functions v4 a host whose ID another app on the same storage account
// has shuts down. It keeps the name's start, for people reading the
// storage account, and ends with a hash of the whole name; it has at most
// 32 lowercase letters, digits and single dashes, neither first nor last.
func hostIDFor(name string) string {
	sum := sha256.Sum256([]byte(name))
	hash := hex.EncodeToString(sum[:])[:hostIDHash]
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		switch {
		case b.Len() >= maxHostID-hostIDHash-1:
		case ok:
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	prefix := strings.Trim(b.String(), "-")
	if prefix == "" {
		return hash
	}
	return prefix + "-" + hash
}

// ownTags are the tags the node puts on every app: the pod's identity, the
// function a run-once pod invokes, the three a Job records its progress in
// once the app exists, and the digest of the spec a new app was created
// from (see AdoptListed).
var ownTags = []string{translate.TagPodUID, translate.TagPodNamespace, translate.TagPodName, translate.TagNode, tagFunction,
	translate.TagJobState, translate.TagJobRestarts, translate.TagJobMessage, translate.SpecDigestKey}

// tagsFor is the app's tags: the node's own, then as many of the pod's
// labels as fit in Azure's 50 tags per resource (by key order), and the
// labels left out. A label is metadata for people and selectors in the
// cluster; the app works without its copy, so a pod with many labels runs
// rather than being refused.
func tagsFor(fn *translate.Function) (map[string]string, []string) {
	tags := map[string]string{}
	own := map[string]bool{}
	for _, k := range ownTags {
		own[k] = true
		if v, ok := fn.Tags[k]; ok {
			tags[k] = v
		}
	}
	tags[tagFunction] = fn.Container
	if f := fn.Annotations[AnnotationFunction]; f != "" {
		tags[tagFunction] = f
	}
	var labels []string
	for k := range fn.Tags {
		if !own[k] {
			labels = append(labels, k)
		}
	}
	sort.Strings(labels)
	room := max(maxTags-len(ownTags), 0)
	if len(labels) <= room {
		room = len(labels)
	}
	for _, k := range labels[:room] {
		tags[k] = fn.Tags[k]
	}
	return tags, labels[room:]
}

// tagNotes tell the user which labels the app's tags leave out.
func tagNotes(fn *translate.Function) []string {
	_, dropped := tagsFor(fn)
	if len(dropped) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("metadata.labels: Azure allows %d tags on a function app and the node uses %d; %d labels are not copied to the app's tags: %s",
		maxTags, len(ownTags), len(dropped), strings.Join(dropped, ", "))}
}

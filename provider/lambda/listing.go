package lambda

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

var _ provider.Sealer = (*Backend)(nil)

// listing is what the last ListFunctions pages showed of the node's
// functions, by name, until each is adopted or deployed.
type listing struct {
	mu  sync.Mutex
	fns map[string]types.FunctionConfiguration
}

// List pages ListFunctions and keeps the functions whose description names
// this node: ListFunctions returns neither tags nor State ("ListFunctions
// returns a subset of the FunctionConfiguration fields", API reference),
// so ownership and the spec digest are read from the description, and
// Phase is left empty. What it shows is kept for AdoptListed.
func (b *Backend) List(ctx context.Context, node string) ([]translate.FunctionState, error) {
	var out []translate.FunctionState
	kept := map[string]types.FunctionConfiguration{}
	var marker *string
	for {
		page, err := b.api.ListFunctions(ctx, &sdk.ListFunctionsInput{Marker: marker, MaxItems: aws.Int32(50)})
		if err != nil {
			return nil, mapError("ListFunctions", err)
		}
		for _, f := range page.Functions {
			owner, ok := translate.ParseDescription(aws.ToString(f.Description))
			if !ok || owner[translate.TagNode] != node {
				continue
			}
			name := aws.ToString(f.FunctionName)
			out = append(out, translate.FunctionState{Name: name, ID: aws.ToString(f.FunctionArn), Tags: owner})
			kept[name] = f
		}
		if aws.ToString(page.NextMarker) == "" {
			break
		}
		marker = page.NextMarker
	}
	b.listed.mu.Lock()
	b.listed.fns = kept
	b.listed.mu.Unlock()
	return out, nil
}

// AdoptListed adopts fn's function from the last listing when its
// description carries fn's owner, node and spec digest, and the
// configuration the listing shows (environment, memory, ephemeral
// storage, timeout) is fn's: the same test createOrAdopt makes after its
// GetFunction, with no call. A function with reserved concurrency is
// deployed as usual (the listing does not show it). The listing has no
// State: the core adopts only a pod that was Running.
func (b *Backend) AdoptListed(fn *translate.Function) (*translate.FunctionState, bool) {
	f, ok := b.listed.take(fn.Name)
	if !ok {
		return nil, false
	}
	in, _, err := createInput(fn, &b.opts)
	if err != nil {
		return nil, false
	}
	ex, err := extras(fn)
	if err != nil || ex.concurrency != nil {
		return nil, false
	}
	owner, ok := translate.ParseDescription(aws.ToString(f.Description))
	if !ok || owner[translate.TagPodUID] != fn.Tags[translate.TagPodUID] || owner[translate.TagNode] != fn.Tags[translate.TagNode] ||
		owner[translate.SpecDigestKey] != specDigest(in, ex) {
		return nil, false
	}
	if up, _ := reconfiguration(&f, in); up != nil {
		return nil, false
	}
	st := stateOf(&f, nil)
	st.Phase, st.Notes = translate.PhaseActive, nil
	st.Tags = in.Tags
	return st, true
}

// take removes and returns the listed configuration of a function.
func (l *listing) take(name string) (types.FunctionConfiguration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.fns[name]
	delete(l.fns, name)
	return f, ok
}

// specDigest identifies what a function is deployed from, as far as Deploy
// brings an existing function to it: everything CreateFunction is given
// but the description and tags (who owns it), and what is set up after it
// (the URL's auth type, reserved concurrency). The listing shows the
// environment's values anyway, so the digest needs no key.
func specDigest(in *sdk.CreateFunctionInput, ex extra) string {
	c := *in
	c.Description, c.Tags = nil, nil
	data, err := json.Marshal(struct {
		In          *sdk.CreateFunctionInput
		URLAuth     types.FunctionUrlAuthType
		Concurrency *int32
	}{&c, ex.urlAuth, ex.concurrency})
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return "v1-" + base64.RawURLEncoding.EncodeToString(sum[:])[:22]
}

// Seal writes fn's description with its spec digest, on a function Deploy
// found as fn (one configuration update: Lambda keeps the description in
// the function's configuration).
func (b *Backend) Seal(ctx context.Context, fn *translate.Function) error {
	in, _, err := createInput(fn, &b.opts)
	if err != nil {
		return err
	}
	ex, _ := extras(fn)
	_, err = b.api.UpdateFunctionConfiguration(ctx, &sdk.UpdateFunctionConfigurationInput{FunctionName: in.FunctionName,
		Description: aws.String(translate.SealDescription(aws.ToString(in.Description), specDigest(in, ex)))})
	return mapError("UpdateFunctionConfiguration", err)
}

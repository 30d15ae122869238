package alibaba

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

var _ provider.Sealer = (*Backend)(nil)

// listing is the owners the last ListServices pages showed of the node's
// services, by name, until each is adopted or deployed.
type listing struct {
	mu     sync.Mutex
	owners map[string]map[string]string
}

// List pages ListServices (faas-kubelet's names start with "fk-") and keeps
// the services whose description names this node: the description is
// written at create, so even a service whose tagging was cut short is found.
// Listings carry no state, so Phase is left empty. What it shows is kept
// for AdoptListed.
func (b *Backend) List(ctx context.Context, node string) ([]translate.FunctionState, error) {
	var out []translate.FunctionState
	kept := map[string]map[string]string{}
	var next *string
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		page, err := b.api.ListServicesWithOptions(&fc.ListServicesRequest{Prefix: tea.String("fk-"), Limit: tea.Int32(100), NextToken: next}, &fc.ListServicesHeaders{}, rt())
		if err != nil {
			return nil, mapError("ListServices", err)
		}
		for _, s := range page.Body.Services {
			owner, ok := translate.ParseDescription(tea.StringValue(s.Description))
			if !ok || owner[translate.TagNode] != node {
				continue
			}
			name := tea.StringValue(s.ServiceName)
			out = append(out, translate.FunctionState{Name: name, Tags: owner})
			kept[name] = owner
		}
		if tea.StringValue(page.Body.NextToken) == "" {
			break
		}
		next = page.Body.NextToken
	}
	b.listed.mu.Lock()
	b.listed.owners = kept
	b.listed.mu.Unlock()
	return out, nil
}

// AdoptListed adopts fn's service and function from the last listing when
// the service's description carries fn's owner, node and spec digest, with
// no call. ListServices shows the service's description and nothing of its
// function (ListServicesResponseBodyServices), so the digest, written at
// create and taken out before any update, is what vouches for the
// function. An FC 2.0 function has no state: one that exists is Active.
func (b *Backend) AdoptListed(fn *translate.Function) (*translate.FunctionState, bool) {
	owner, ok := b.listed.take(fn.Name)
	if !ok {
		return nil, false
	}
	s, err := specFor(fn, &b.opts)
	if err != nil {
		return nil, false
	}
	d := b.specDigest(s)
	if d == "" || owner[translate.SpecDigestKey] != d || owner[translate.TagPodUID] != fn.Tags[translate.TagPodUID] || owner[translate.TagNode] != fn.Tags[translate.TagNode] {
		return nil, false
	}
	return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive, Tags: s.Tags}, true
}

// take removes and returns the listed owner of a service.
func (l *listing) take(name string) (map[string]string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	o, ok := l.owners[name]
	delete(l.owners, name)
	return o, ok
}

// specDigest identifies what a service and its function are deployed
// from: the requests Deploy sends, descriptions and tags aside. It is
// keyed with DigestKey: anyone allowed to list services reads the
// description, while the environment it covers takes GetFunction.
func (b *Backend) specDigest(s *spec) string {
	if b.opts.DigestKey == "" {
		return ""
	}
	svc, f := *s.Service, *s.Function
	svc.Description, f.Description = nil, nil
	data, err := json.Marshal(struct {
		Service  *fc.CreateServiceRequest
		Function *fc.CreateFunctionRequest
		Trigger  *fc.CreateTriggerRequest
	}{&svc, &f, s.Trigger})
	if err != nil {
		return ""
	}
	mac := hmac.New(sha256.New, []byte(b.opts.DigestKey))
	mac.Write(data)
	return "v1-" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))[:22]
}

// Seal writes the service's description with fn's spec digest, on a
// service and function Deploy found as fn.
func (b *Backend) Seal(_ context.Context, fn *translate.Function) error {
	s, err := specFor(fn, &b.opts)
	if err != nil {
		return err
	}
	d := b.specDigest(s)
	if d == "" {
		return nil
	}
	_, err = b.api.UpdateServiceWithOptions(tea.String(fn.Name), &fc.UpdateServiceRequest{
		Description: tea.String(translate.SealDescription(tea.StringValue(s.Service.Description), d))}, &fc.UpdateServiceHeaders{}, rt())
	return mapError("UpdateService", err)
}

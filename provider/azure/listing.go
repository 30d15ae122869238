package azure

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

var _ provider.Sealer = (*Backend)(nil)

// AdoptListed adopts fn's app from the last listing when its tags carry
// fn's owner, node and spec digest and the listing shows it Running, with
// no call: ListByResourceGroup returns each site with its tags and state
// (WebAppCollection of Site). An app this process deploys or follows is
// never adopted from it.
func (b *Backend) AdoptListed(fn *translate.Function) (*translate.FunctionState, bool) {
	s, ok := b.takeListed(fn.Name)
	if !ok {
		return nil, false
	}
	site, err := siteFor(fn, &b.opts)
	if err != nil {
		return nil, false
	}
	tags := decodeTags(s.Tags)
	d := b.specDigest(site)
	if d == "" || tags[translate.SpecDigestKey] != d || tags[translate.TagPodUID] != fn.Tags[translate.TagPodUID] || tags[translate.TagNode] != fn.Tags[translate.TagNode] {
		return nil, false
	}
	if s.Properties == nil || str(s.Properties.State) != "Running" {
		return nil, false
	}
	b.mu.Lock()
	_, deploying := b.pollers[fn.Name]
	retry := b.retry[fn.Name]
	b.mu.Unlock()
	if deploying || retry {
		return nil, false
	}
	st := b.stateOf(context.Background(), s)
	st.Tags = tags
	return st, st.Phase == translate.PhaseActive
}

// takeListed removes and returns what the last listing showed of an app.
func (b *Backend) takeListed(name string) (*armappservice.Site, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.listed[name]
	delete(b.listed, name)
	return s, ok
}

// specDigest identifies what an app is deployed from: the site Deploy puts
// (image, settings, command, plan), tags aside. Tags are readable by anyone
// who may read the resource group, and the settings are secrets (reading
// them takes the list action), so the digest is keyed with a secret of the
// node's own config that every app's settings carry, the storage
// connection (or else the registry password): it tells nothing of the
// settings to whoever cannot read them. A node with neither writes no
// digest, and its apps are adopted per pod.
func (b *Backend) specDigest(site armappservice.Site) string {
	key := b.opts.StorageConnection
	if key == "" {
		key = b.opts.RegistryPassword
	}
	if key == "" {
		return ""
	}
	site.Tags = nil
	data, err := json.Marshal(site)
	if err != nil {
		return ""
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(data)
	return "v1-" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))[:22]
}

// Seal merges fn's spec digest into its app's tags (ARM's Tags API, which
// does not restart the app), on an app Deploy found as fn.
func (b *Backend) Seal(ctx context.Context, fn *translate.Function) error {
	site, err := siteFor(fn, &b.opts)
	if err != nil {
		return err
	}
	d := b.specDigest(site)
	if d == "" {
		return nil
	}
	cur, err := b.api.Get(ctx, b.opts.ResourceGroup, fn.Name, nil)
	if err != nil {
		return mapError("Get", err)
	}
	return mapError("UpdateTagsAtScope", b.tags.MergeTags(ctx, str(cur.ID), map[string]*string{encodeKey(translate.SpecDigestKey): &d}))
}

package alibaba

import (
	"maps"
	"net/http"
	"strings"
	"unicode/utf8"
)

// FC's limits on tags (TagResource, API 2021-04-06).
const (
	maxTags     = 20
	maxTagChars = 128
)

// checkTag refuses a tag FC's TagResource refuses: keys and values of 1 to
// 128 (Unicode) characters, keys not starting with aliyun or acs:, neither
// containing http:// or https://.
func checkTag(k, v string) error {
	switch n := utf8.RuneCountInString(k); {
	case n == 0 || n > maxTagChars:
		return invalid("tag key '%s' is invalid: it must be 1 to %d characters long", k, maxTagChars)
	case strings.HasPrefix(k, "aliyun") || strings.HasPrefix(k, "acs:"):
		return invalid("tag key '%s' is invalid: it cannot start with aliyun or acs:", k)
	case hasURL(k):
		return invalid("tag key '%s' is invalid: it cannot contain http:// or https://", k)
	}
	switch n := utf8.RuneCountInString(v); {
	case n == 0 || n > maxTagChars:
		return invalid("the value of tag '%s' is invalid: it must be 1 to %d characters long, got %d", k, maxTagChars, n)
	case hasURL(v):
		return invalid("the value of tag '%s' is invalid: it cannot contain http:// or https://", k)
	}
	return nil
}

// hasURL: FC's documents do not say whether the check ignores case; the
// emulator takes the stricter reading.
func hasURL(s string) bool {
	l := strings.ToLower(s)
	return strings.Contains(l, "http://") || strings.Contains(l, "https://")
}

// serviceARN is the resource ARN tags attach to in FC 2.0.
func (s *Server) serviceARN(name string) string {
	return "acs:fc:" + s.opts.Region + ":" + s.opts.AccountID + ":services/" + name
}

// tagged resolves a resource ARN to its service; only services carry tags.
func (s *Server) tagged(arn string) (*service, error) {
	if arn == "" {
		return nil, invalid("resourceArn is required")
	}
	name, ok := strings.CutPrefix(arn, s.serviceARN(""))
	if !ok || name == "" || strings.Contains(name, "/") {
		return nil, invalid("resourceArn '%s' is invalid: want %s<serviceName>", arn, s.serviceARN(""))
	}
	return s.service(name)
}

func (s *Server) tagResource(w http.ResponseWriter, _ *http.Request, body []byte) error {
	var in struct {
		ResourceArn string            `json:"resourceArn"`
		Tags        map[string]string `json:"tags"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	if len(in.Tags) == 0 {
		return invalid("tags is required")
	}
	for k, v := range in.Tags {
		if err := checkTag(k, v); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.tagged(in.ResourceArn)
	if err != nil {
		return err
	}
	merged := maps.Clone(svc.tags)
	maps.Copy(merged, in.Tags)
	if len(merged) > maxTags {
		return invalid("a resource can have at most %d tags, this request would leave %d", maxTags, len(merged))
	}
	svc.tags = merged
	return writeJSON(w, http.StatusOK, nil)
}

func (s *Server) untagResource(w http.ResponseWriter, _ *http.Request, body []byte) error {
	var in struct {
		ResourceArn string   `json:"resourceArn"`
		TagKeys     []string `json:"tagKeys"`
		All         bool     `json:"all"`
	}
	if err := decode(body, &in); err != nil {
		return err
	}
	if !in.All && len(in.TagKeys) == 0 {
		return invalid("tagKeys is required unless all is true")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.tagged(in.ResourceArn)
	if err != nil {
		return err
	}
	if in.All {
		clear(svc.tags)
	}
	for _, k := range in.TagKeys {
		delete(svc.tags, k)
	}
	return writeJSON(w, http.StatusOK, nil)
}

type taggedResource struct {
	ResourceArn string            `json:"resourceArn"`
	Tags        map[string]string `json:"tags"`
}

func (s *Server) getResourceTags(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	arn := r.URL.Query().Get("resourceArn")
	svc, err := s.tagged(arn)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, taggedResource{ResourceArn: arn, Tags: svc.tags})
}

// listTaggedResources pages every service that carries at least one tag.
func (s *Server) listTaggedResources(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var arns []string
	byARN := map[string]*service{}
	for _, svc := range s.services {
		if len(svc.tags) > 0 {
			arn := s.serviceARN(svc.cfg.ServiceName)
			arns = append(arns, arn)
			byARN[arn] = svc
		}
	}
	q := r.URL.Query()
	q.Del("prefix")
	q.Del("startKey")
	picked, next, err := page(arns, q)
	if err != nil {
		return err
	}
	out := struct {
		Resources []taggedResource `json:"resources"`
		NextToken string           `json:"nextToken,omitempty"`
	}{Resources: []taggedResource{}, NextToken: next}
	for _, arn := range picked {
		out.Resources = append(out.Resources, taggedResource{ResourceArn: arn, Tags: maps.Clone(byARN[arn].tags)})
	}
	return writeJSON(w, http.StatusOK, out)
}

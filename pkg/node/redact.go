package node

import (
	"regexp"
	"unicode/utf8"
)

// maxMessage bounds a condition message: a cloud's error may carry a whole
// page of HTML.
const maxMessage = 1024

// Backends promise error texts without secrets (provider.Backend.Ping);
// the node condition, shown to anyone who may read nodes, still masks what
// looks like one, in case an SDK put a signed URL or a token in its error.
var secretPatterns = []struct {
	re   *regexp.Regexp
	repl string
}{
	// scheme://user:password@host
	{regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@"']+@`), "${1}[redacted]@"},
	// Signature=…, X-Amz-Security-Token=…, password=… (query strings, key=value)
	{regexp.MustCompile(`(?i)\b([a-z0-9_.-]*(?:signature|token|secret|password|passwd|credential|api_?key)[a-z0-9_.-]*=)[^&\s"',;]+`), "${1}[redacted]"},
	// "secret": "…" (JSON bodies)
	{regexp.MustCompile(`(?i)("[a-z0-9_.-]*(?:signature|token|secret|password|passwd|credential|api_?key)[a-z0-9_.-]*"\s*:\s*")[^"]*`), "${1}[redacted]"},
	// Authorization: Bearer …
	{regexp.MustCompile(`(?i)\b(bearer|basic)\s+[a-z0-9._~+/=-]+`), "${1} [redacted]"},
}

// redact masks credentials in an error text meant for a node condition and
// bounds its length.
func redact(s string) string {
	for _, p := range secretPatterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	if len(s) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

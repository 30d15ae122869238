package alibaba

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// Function Compute's TagResource (API 2021-04-06) takes keys and values of 1
// to 128 characters, keys not starting with aliyun or acs:, neither
// containing http:// or https://. Pod labels may be empty, a Job's message
// is empty while it runs and may be long or carry URLs, so every value is
// written through tagValue and read back through untagValue:
//
//   - "~" escapes the character after it: a "~" of the value is written
//     "~~", every "://" is written ":/~/", and a value starting with aliyun
//     or acs: gets a leading "~" (FC's documents can be read as refusing
//     those prefixes on values too);
//   - the empty value is written "~" (an escape with nothing after it);
//   - a value still longer than 128 characters keeps its first 119, then
//     "…" and 8 hex digits of its SHA-256, so two long values stay distinct;
//     it reads back shortened.
const (
	maxTagChars = 128
	tagEscape   = '~'
	hashChars   = 8
)

// tagValue encodes v as a value TagResource accepts.
func tagValue(v string) string {
	if v == "" {
		return string(tagEscape)
	}
	var b strings.Builder
	if strings.HasPrefix(v, "aliyun") || strings.HasPrefix(v, "acs:") {
		b.WriteRune(tagEscape)
	}
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == tagEscape:
			b.WriteString("~~")
		case strings.HasPrefix(v[i:], "://"):
			b.WriteString(":/~/")
			i += 2
		default:
			b.WriteByte(v[i])
		}
	}
	enc := b.String()
	if utf8.RuneCountInString(enc) <= maxTagChars {
		return enc
	}
	keep := []rune(enc)[:maxTagChars-1-hashChars]
	// Drop an escape cut off from the character it escapes: a run of
	// escapes at the end holds pairs, and one left over.
	run := 0
	for run < len(keep) && keep[len(keep)-1-run] == tagEscape {
		run++
	}
	if run%2 == 1 {
		keep = keep[:len(keep)-1]
	}
	sum := sha256.Sum256([]byte(v))
	return string(keep) + "…" + hex.EncodeToString(sum[:])[:hashChars]
}

// untagValue decodes what tagValue wrote.
func untagValue(s string) string {
	if !strings.ContainsRune(s, tagEscape) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == tagEscape {
			i++
			if i == len(s) {
				break
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// encodeTags is tags as TagResource takes them.
func encodeTags(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = tagValue(v)
	}
	return out
}

// decodeTags is the tags tagValue wrote, as they were given.
func decodeTags(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = untagValue(v)
	}
	return out
}

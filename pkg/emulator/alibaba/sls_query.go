package alibaba

import (
	"slices"
	"strings"
)

// The SLS query language, in the subset the emulator understands:
//
//	*                                  every entry
//	word, "a phrase", prefix*          full-text: any field holds it
//	key: value, key: "a phrase", key: prefix*
//	term and term (or terms side by side)
//
// Matching is case-insensitive and token-wise, with SLS's default
// delimiters, so functionName: fn does not match fn-2 while
// message: "Invoke Start" matches "FC Invoke Start RequestId: ...".
// Analytics (| SELECT ...), or and not are refused with ParameterInvalid.

// slsDelimiters are SLS's default token delimiters.
const slsDelimiters = " ,'\";=()[]{}?@&<>/:\n\t\r"

type token struct {
	text   string
	quoted bool
}

func tokenizeQuery(q string) ([]token, error) {
	var out []token
	for i := 0; i < len(q); {
		switch c := q[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == ':':
			out = append(out, token{text: ":"})
			i++
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(q) && q[j] != '"'; j++ {
				if q[j] == '\\' && j+1 < len(q) {
					j++
				}
				b.WriteByte(q[j])
			}
			if j == len(q) {
				return nil, slsInvalid("query %q has an unterminated quote", q)
			}
			out = append(out, token{text: b.String(), quoted: true})
			i = j + 1
		default:
			j := i
			for j < len(q) && !strings.ContainsRune(" \t\n\r:\"", rune(q[j])) {
				j++
			}
			out = append(out, token{text: q[i:j]})
			i = j
		}
	}
	return out, nil
}

// parseQuery compiles a query into a predicate over an entry's fields. A
// key: value term on a field indexed says has no field index matches
// nothing: SLS searches a field by key only through its field index.
func parseQuery(q string, indexed func(key string) bool) (func(map[string]string) bool, error) {
	if strings.Contains(q, "|") {
		return nil, slsInvalid("analytic statements (| ...) are not emulated in query %q", q)
	}
	toks, err := tokenizeQuery(q)
	if err != nil {
		return nil, err
	}
	var terms []func(map[string]string) bool
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if !t.quoted {
			switch strings.ToLower(t.text) {
			case "and":
				continue
			case "or", "not":
				return nil, slsInvalid("operator %q is not emulated in query %q: use and", t.text, q)
			}
		}
		if t.text == ":" {
			return nil, slsInvalid("query %q has a ':' without a key", q)
		}
		if i+1 < len(toks) && toks[i+1].text == ":" && !toks[i+1].quoted {
			if i+2 >= len(toks) {
				return nil, slsInvalid("query %q has a key %q without a value", q, t.text)
			}
			key, value := t.text, toks[i+2]
			if !indexed(key) {
				terms = append(terms, func(map[string]string) bool { return false })
				i += 2
				continue
			}
			terms = append(terms, func(f map[string]string) bool {
				v, ok := f[key]
				return ok && (value.text == "*" && !value.quoted || matches(v, value))
			})
			i += 2
			continue
		}
		if t.text == "*" && !t.quoted {
			continue
		}
		terms = append(terms, func(f map[string]string) bool {
			for _, v := range f {
				if matches(v, t) {
					return true
				}
			}
			return false
		})
	}
	return func(f map[string]string) bool {
		for _, term := range terms {
			if !term(f) {
				return false
			}
		}
		return true
	}, nil
}

func splitTokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return strings.ContainsRune(slsDelimiters, r) })
}

// matches reports whether a field value holds the term: the whole value, a
// prefix of one of its tokens (prefix*), or its tokens in sequence.
func matches(value string, term token) bool {
	if strings.EqualFold(value, term.text) {
		return true
	}
	have := splitTokens(value)
	if prefix, ok := strings.CutSuffix(term.text, "*"); ok && !term.quoted {
		prefix = strings.ToLower(prefix)
		return slices.ContainsFunc(have, func(t string) bool { return strings.HasPrefix(t, prefix) })
	}
	want := splitTokens(term.text)
	if len(want) == 0 {
		return false
	}
	for i := 0; i+len(want) <= len(have); i++ {
		if slices.Equal(have[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

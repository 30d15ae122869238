package lambda

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The constraints of Lambda's API model that a request can break, checked
// before anything else, as Lambda checks them: see the package doc for
// their sources.
var (
	roleRE   = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	envKeyRE = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`)
)

const (
	maxTagKey   = 128
	maxTagValue = 256
	// maxTagsPerFunction is the tag budget of a resource (see the package
	// doc), counted over all its tags on CreateFunction and on every
	// TagResource, which merges into the tags it has.
	maxTagsPerFunction = 50
	msgTooManyTags     = "Number of tags exceeds resource tag limit."
)

// validation is Lambda's answer to a request that breaks its API model:
// 400 ValidationException, "1 validation error detected: ...".
func validation(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "ValidationException", Message: "1 validation error detected: " + fmt.Sprintf(format, args...)}
}

// validateModel checks a CreateFunction or UpdateFunctionConfiguration
// against the model: the role's pattern, the runtime's enum, the
// environment variables' names and the tags' lengths.
func validateModel(req *createRequest) error {
	if req.Role != "" && !roleRE.MatchString(req.Role) {
		return validation("Value '%s' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", req.Role, roleRE.String()[1:len(roleRE.String())-1])
	}
	if req.Runtime != "" && !slices.Contains(types.Runtime("").Values(), types.Runtime(req.Runtime)) {
		return validation("Value '%s' at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: %v", req.Runtime, types.Runtime("").Values())
	}
	if req.Environment != nil {
		for _, k := range sortedKeys(req.Environment.Variables) {
			if !envKeyRE.MatchString(k) {
				return validation("Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
			}
		}
	}
	if utf8.RuneCountInString(req.Description) > maxDescription {
		return validation("Value '%s' at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", req.Description, maxDescription)
	}
	return validateTags(req.Tags)
}

// maxDescription is Description's length constraint on CreateFunction and
// UpdateFunctionConfiguration ("Length Constraints: Minimum length of 0.
// Maximum length of 256.", Lambda API reference).
const maxDescription = 256

// validateTags checks tags' lengths (keys 1-128 characters, values at most
// 256).
func validateTags(tags map[string]string) error {
	for _, k := range sortedKeys(tags) {
		if n := utf8.RuneCountInString(k); n < 1 || n > maxTagKey {
			return validation("Value at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to %d, Member must have length greater than or equal to 1]", maxTagKey)
		}
		if utf8.RuneCountInString(tags[k]) > maxTagValue {
			return validation("Value at 'tags' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to %d]", maxTagValue)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

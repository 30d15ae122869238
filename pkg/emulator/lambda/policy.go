package lambda

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// statement is one statement of a function's resource-based policy, in the
// shape GetPolicy returns it.
type statement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Principal any                          `json:"Principal"`
	Action    string                       `json:"Action"`
	Resource  string                       `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

var (
	statementIDRE = regexp.MustCompile(`^[a-zA-Z0-9-_]{1,100}$`)
	actionRE      = regexp.MustCompile(`^(lambda:[*]|lambda:[a-zA-Z]+|[*])$`)
	accountRE     = regexp.MustCompile(`^\d{12}$`)
)

// principal is how a policy names an AddPermission principal.
func principal(p string) any {
	switch {
	case p == "*":
		return "*"
	case accountRE.MatchString(p):
		return map[string]string{"AWS": "arn:aws:iam::" + p + ":root"}
	case strings.HasPrefix(p, "arn:"):
		return map[string]string{"AWS": p}
	default:
		return map[string]string{"Service": p}
	}
}

// addPermission adds a statement to the function's policy (AddPermission:
// 201 with the statement as a JSON string; a StatementId in use is 409
// ResourceConflictException).
func (s *Server) addPermission(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		StatementId           string `json:"StatementId"`
		Action                string `json:"Action"`
		Principal             string `json:"Principal"`
		SourceArn             string `json:"SourceArn"`
		SourceAccount         string `json:"SourceAccount"`
		PrincipalOrgID        string `json:"PrincipalOrgID"`
		FunctionUrlAuthType   string `json:"FunctionUrlAuthType"`
		InvokedViaFunctionUrl *bool  `json:"InvokedViaFunctionUrl"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	switch {
	case !statementIDRE.MatchString(req.StatementId):
		return validation("Value '%s' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)", req.StatementId)
	case !actionRE.MatchString(req.Action):
		return validation("Value '%s' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])", req.Action)
	case req.Principal == "" || strings.ContainsAny(req.Principal, " \t\n"):
		return validation("Value '%s' at 'principal' failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+", req.Principal)
	case req.FunctionUrlAuthType != "" && req.FunctionUrlAuthType != "NONE" && req.FunctionUrlAuthType != "AWS_IAM":
		return validation("Value '%s' at 'functionUrlAuthType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]", req.FunctionUrlAuthType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	for _, st := range f.policy {
		if st.Sid == req.StatementId {
			return conflict("The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", req.StatementId)
		}
	}
	st := statement{Sid: req.StatementId, Effect: "Allow", Principal: principal(req.Principal), Action: req.Action, Resource: f.cfg.FunctionArn}
	cond := func(op, key, value string) {
		if st.Condition == nil {
			st.Condition = map[string]map[string]string{}
		}
		if st.Condition[op] == nil {
			st.Condition[op] = map[string]string{}
		}
		st.Condition[op][key] = value
	}
	if req.FunctionUrlAuthType != "" {
		cond("StringEquals", "lambda:FunctionUrlAuthType", req.FunctionUrlAuthType)
	}
	if req.InvokedViaFunctionUrl != nil && *req.InvokedViaFunctionUrl {
		cond("Bool", "lambda:InvokedViaFunctionUrl", "true")
	}
	if req.SourceArn != "" {
		cond("ArnLike", "AWS:SourceArn", req.SourceArn)
	}
	if req.SourceAccount != "" {
		cond("StringEquals", "AWS:SourceAccount", req.SourceAccount)
	}
	if req.PrincipalOrgID != "" {
		cond("StringEquals", "aws:PrincipalOrgID", req.PrincipalOrgID)
	}
	f.policy = append(f.policy, st)
	f.policyRev = newID()
	doc, _ := json.Marshal(st)
	return writeJSON(w, http.StatusCreated, map[string]string{"Statement": string(doc)})
}

// removePermission removes a statement (204; a missing one is 404
// ResourceNotFoundException).
func (s *Server) removePermission(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	sid := r.PathValue("sid")
	for i, st := range f.policy {
		if st.Sid == sid {
			f.policy = append(f.policy[:i], f.policy[i+1:]...)
			f.policyRev = newID()
			return writeJSON(w, http.StatusNoContent, nil)
		}
	}
	return notFound("Statement %s is not found in resource policy.", sid)
}

// getPolicy returns the policy as a JSON string (a function without one is
// 404 ResourceNotFoundException).
func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	if len(f.policy) == 0 {
		return notFound("The resource you requested does not exist.")
	}
	doc, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Id": "default", "Statement": f.policy})
	return writeJSON(w, http.StatusOK, map[string]string{"Policy": string(doc), "RevisionId": f.policyRev})
}

// grantsPublicURL says whether the policy lets anyone invoke the function
// through a function URL of auth type NONE: it must allow "*" both
// lambda:InvokeFunctionUrl (for auth type NONE) and lambda:InvokeFunction
// (when invoked through a function URL) (see the package doc).
func grantsPublicURL(policy []statement) bool {
	var url, invoke bool
	for _, st := range policy {
		if st.Effect != "Allow" || st.Principal != "*" {
			continue
		}
		if v, ok := st.Condition["StringEquals"]["lambda:FunctionUrlAuthType"]; ok && v != "NONE" {
			continue
		}
		if v, ok := st.Condition["Bool"]["lambda:InvokedViaFunctionUrl"]; ok && v != "true" {
			continue
		}
		switch st.Action {
		case "lambda:InvokeFunctionUrl":
			url = true
		case "lambda:InvokeFunction":
			invoke = true
		case "lambda:*", "*":
			url, invoke = true, true
		}
	}
	return url && invoke
}

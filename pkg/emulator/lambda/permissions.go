package lambda

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Permissions are the IAM actions the caller's identity-based policy
// allows (faas-kubelet's node role). Allow nil allows every action, as the
// shipped policy (deploy/cloud-policies/aws-lambda-iam-policy.json) allows
// every action faas-kubelet uses; a list allows only those actions, with
// IAM's trailing "*" wildcard ("lambda:*", "lambda:Get*").
type Permissions struct {
	Allow []string `json:"allow"`
}

// allows says whether the permissions allow action.
func (p Permissions) allows(action string) bool {
	if p.Allow == nil {
		return true
	}
	return slices.ContainsFunc(p.Allow, func(a string) bool {
		if prefix, ok := strings.CutSuffix(a, "*"); ok {
			return strings.HasPrefix(action, prefix)
		}
		return a == action
	})
}

// SetPermissions replaces the caller's permissions (the zero value allows
// everything).
func (s *Server) SetPermissions(p Permissions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perms = p
}

// Permissions returns the caller's permissions.
func (s *Server) Permissions() Permissions {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perms
}

// allowedLocked says whether the caller may perform action.
func (s *Server) allowedLocked(action string) bool { return s.perms.allows(action) }

// allowed says whether the caller may perform action.
func (s *Server) allowed(action string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allowedLocked(action)
}

// action is the IAM action of an operation: its name, but Invoke is
// lambda:InvokeFunction ("Actions, resources, and condition keys for AWS
// Lambda", Service Authorization Reference).
func action(service, op string) string {
	if service == "lambda" && op == "Invoke" {
		return "lambda:InvokeFunction"
	}
	return service + ":" + op
}

// accessDenied is IAM's refusal, as Lambda words it ("Troubleshooting
// Lambda identity and access", https://docs.aws.amazon.com/lambda/latest/dg/security_iam_troubleshoot.html).
func (s *Server) accessDenied(act, resource string) *apiError {
	if resource == "" {
		resource = "*"
	}
	return &apiError{Status: http.StatusForbidden, Code: "AccessDeniedException",
		Message: "User: arn:aws:sts::" + s.opts.AccountID + ":assumed-role/faas-kubelet/node is not authorized to perform: " + act +
			" on resource: " + resource + " because no identity-based policy allows the " + act + " action"}
}

// resourceOf is the ARN a request acts on, for AccessDeniedException.
func (s *Server) resourceOf(r *http.Request) string {
	if n := r.PathValue("name"); n != "" {
		return s.arn(functionName(n))
	}
	if a := r.PathValue("arn"); a != "" {
		return a
	}
	return ""
}

// servePermissions serves /_emulator/permissions: GET, PUT a Permissions
// document, DELETE (everything allowed again).
func (s *Server) servePermissions(m *http.ServeMux) {
	m.HandleFunc("GET /_emulator/permissions", func(w http.ResponseWriter, _ *http.Request) {
		_ = writeJSON(w, http.StatusOK, s.Permissions())
	})
	m.HandleFunc("PUT /_emulator/permissions", func(w http.ResponseWriter, r *http.Request) {
		var p Permissions
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.SetPermissions(p)
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("DELETE /_emulator/permissions", func(w http.ResponseWriter, _ *http.Request) {
		s.SetPermissions(Permissions{})
		w.WriteHeader(http.StatusNoContent)
	})
}

// vpcActions are what a caller needs to attach a function to a VPC: Lambda
// checks the subnets and security groups with the caller's permissions
// (see the package doc).
var vpcActions = []string{"ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"}

// refuseVPCLocked answers a VpcConfig the caller may not describe.
func (s *Server) refuseVPCLocked(v *vpcConfig) error {
	if v == nil || len(v.SubnetIds) == 0 {
		return nil
	}
	for _, a := range vpcActions {
		if !s.allowedLocked(a) {
			return s.accessDenied(a, "*")
		}
	}
	return nil
}

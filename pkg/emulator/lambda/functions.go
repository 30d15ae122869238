package lambda

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Wire shapes (restJson1, PascalCase members as Lambda sends them).
type (
	environment struct {
		Variables map[string]string `json:"Variables,omitempty"`
	}
	imageConfig struct {
		EntryPoint       []string `json:"EntryPoint,omitempty"`
		Command          []string `json:"Command,omitempty"`
		WorkingDirectory string   `json:"WorkingDirectory,omitempty"`
	}
	ephemeralStorage struct {
		Size int32 `json:"Size"`
	}
	loggingConfig struct {
		LogFormat string `json:"LogFormat,omitempty"`
		LogGroup  string `json:"LogGroup,omitempty"`
	}
	vpcConfig struct {
		SubnetIds        []string `json:"SubnetIds,omitempty"`
		SecurityGroupIds []string `json:"SecurityGroupIds,omitempty"`
	}
	functionCode struct {
		ImageUri string `json:"ImageUri,omitempty"`
		S3Bucket string `json:"S3Bucket,omitempty"`
		S3Key    string `json:"S3Key,omitempty"`
		ZipFile  []byte `json:"ZipFile,omitempty"`
	}
	createRequest struct {
		FunctionName     string            `json:"FunctionName"`
		Role             string            `json:"Role"`
		Code             functionCode      `json:"Code"`
		PackageType      string            `json:"PackageType"`
		Runtime          string            `json:"Runtime"`
		Handler          string            `json:"Handler"`
		Description      string            `json:"Description"`
		MemorySize       int32             `json:"MemorySize"`
		Timeout          int32             `json:"Timeout"`
		Environment      *environment      `json:"Environment"`
		ImageConfig      *imageConfig      `json:"ImageConfig"`
		Architectures    []string          `json:"Architectures"`
		EphemeralStorage *ephemeralStorage `json:"EphemeralStorage"`
		LoggingConfig    *loggingConfig    `json:"LoggingConfig"`
		VpcConfig        *vpcConfig        `json:"VpcConfig"`
		Tags             map[string]string `json:"Tags"`
	}
	imageConfigResponse struct {
		ImageConfig *imageConfig `json:"ImageConfig,omitempty"`
	}
	// configuration is FunctionConfiguration.
	configuration struct {
		FunctionName               string               `json:"FunctionName"`
		FunctionArn                string               `json:"FunctionArn"`
		Runtime                    string               `json:"Runtime,omitempty"`
		Role                       string               `json:"Role"`
		Handler                    string               `json:"Handler,omitempty"`
		CodeSize                   int64                `json:"CodeSize"`
		Description                string               `json:"Description"`
		Timeout                    int32                `json:"Timeout"`
		MemorySize                 int32                `json:"MemorySize"`
		LastModified               string               `json:"LastModified"`
		CodeSha256                 string               `json:"CodeSha256"`
		Version                    string               `json:"Version"`
		Environment                *environment         `json:"Environment,omitempty"`
		RevisionId                 string               `json:"RevisionId"`
		State                      string               `json:"State,omitempty"`
		StateReason                string               `json:"StateReason,omitempty"`
		StateReasonCode            string               `json:"StateReasonCode,omitempty"`
		LastUpdateStatus           string               `json:"LastUpdateStatus,omitempty"`
		LastUpdateStatusReason     string               `json:"LastUpdateStatusReason,omitempty"`
		LastUpdateStatusReasonCode string               `json:"LastUpdateStatusReasonCode,omitempty"`
		PackageType                string               `json:"PackageType"`
		ImageConfigResponse        *imageConfigResponse `json:"ImageConfigResponse,omitempty"`
		Architectures              []string             `json:"Architectures"`
		EphemeralStorage           *ephemeralStorage    `json:"EphemeralStorage,omitempty"`
		LoggingConfig              *loggingConfig       `json:"LoggingConfig,omitempty"`
	}
)

// function is one stored function and its state machine.
type function struct {
	cfg         configuration
	code        functionCode
	tags        map[string]string
	created     time.Time
	activeAt    time.Time      // when Pending turns Active (zero: never, Failed)
	updateDone  time.Time      // when an InProgress update turns Successful
	updateFails *updateFailure // the InProgress update turns Failed instead
	// serving is the configuration invocations run while an update is in
	// progress: the previous one (nil: cfg), and servingImage its image.
	serving      *configuration
	servingImage string
	concurrency  *int32
	url          *functionURL
	stream       string
	policy       []statement // the resource-based policy
	policyRev    string
}

type functionURL struct {
	FunctionUrl      string `json:"FunctionUrl"`
	FunctionArn      string `json:"FunctionArn"`
	AuthType         string `json:"AuthType"`
	CreationTime     string `json:"CreationTime"`
	LastModifiedTime string `json:"LastModifiedTime"`
	InvokeMode       string `json:"InvokeMode,omitempty"`
}

const lastModifiedLayout = "2006-01-02T15:04:05.000-0700"

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// refresh advances the function's state machine to now.
func (f *function) refresh(now time.Time) {
	if f.cfg.State == "Pending" && !f.activeAt.IsZero() && !now.Before(f.activeAt) {
		if f.cfg.StateReasonCode == "Creating" {
			f.cfg.LastUpdateStatus = "Successful"
		}
		f.cfg.State = "Active"
		f.cfg.StateReason, f.cfg.StateReasonCode = "", ""
	}
	if f.cfg.LastUpdateStatus == "InProgress" && f.cfg.State == "Active" && !now.Before(f.updateDone) {
		f.cfg.LastUpdateStatus = "Successful"
		f.cfg.LastUpdateStatusReason, f.cfg.LastUpdateStatusReasonCode = "", ""
		f.serving = nil
		if u := f.updateFails; u != nil {
			f.cfg.LastUpdateStatus = "Failed"
			f.cfg.LastUpdateStatusReason, f.cfg.LastUpdateStatusReasonCode = u.reason, u.code
			f.updateFails = nil
		}
	}
}

// updateFailure is how an update in progress will fail.
type updateFailure struct{ code, reason string }

func (s *Server) get(nameOrARN string) (*function, error) {
	name := functionName(nameOrARN)
	f, ok := s.functions[name]
	if !ok {
		return nil, notFound("Function not found: %s", s.arn(name))
	}
	f.refresh(s.opts.Now())
	return f, nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func codeHash(c functionCode) (string, int64) {
	var data []byte
	switch {
	case c.ImageUri != "":
		data = []byte(c.ImageUri)
	case len(c.ZipFile) > 0:
		data = c.ZipFile
	default:
		data = []byte("s3://" + c.S3Bucket + "/" + c.S3Key)
	}
	sum := sha256.Sum256(data)
	return base64.StdEncoding.EncodeToString(sum[:]), int64(len(data))
}

func validateCreate(req *createRequest) error {
	if !nameRE.MatchString(req.FunctionName) {
		return invalid("1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and length <= 64", req.FunctionName)
	}
	if req.Role == "" {
		return validation("Value null at 'role' failed to satisfy constraint: Member must not be null")
	}
	if err := validateModel(req); err != nil {
		return err
	}
	if req.MemorySize != 0 && (req.MemorySize < 128 || req.MemorySize > 10240) {
		return invalid("1 validation error detected: Value '%d' at 'memorySize' failed to satisfy constraint: Member must have value between 128 and 10240", req.MemorySize)
	}
	if req.Timeout != 0 && (req.Timeout < 1 || req.Timeout > 900) {
		return invalid("1 validation error detected: Value '%d' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900", req.Timeout)
	}
	if req.Environment != nil {
		size := 0
		for k, v := range req.Environment.Variables {
			size += len(k) + len(v)
		}
		if size > 4096 {
			return invalid("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %d", size)
		}
	}
	switch req.PackageType {
	case "Image":
		if req.Code.ImageUri == "" {
			return invalid("Please provide ImageUri when PackageType is Image.")
		}
		if !strings.Contains(req.Code.ImageUri, ".dkr.ecr.") {
			return invalid("Source image %s is not valid. Provide a valid source image.", req.Code.ImageUri)
		}
	case "", "Zip":
		if req.Runtime == "" || req.Handler == "" {
			return invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
		}
		if req.Code.S3Bucket == "" && len(req.Code.ZipFile) == 0 {
			return invalid("Please provide a source for function code.")
		}
	default:
		return invalid("Value '%s' at 'packageType' failed to satisfy constraint: Member must satisfy enum value set: [Zip, Image]", req.PackageType)
	}
	return nil
}

func (s *Server) createFunction(w http.ResponseWriter, r *http.Request) error {
	var req createRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := validateCreate(&req); err != nil {
		return err
	}
	if req.Code.ImageUri != "" && !s.inRegion(req.Code.ImageUri) {
		return invalid("Source image %s is not valid. Provide a valid source image.", req.Code.ImageUri)
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.functions[req.FunctionName]; exists {
		return conflict("Function already exist: %s", req.FunctionName)
	}
	if len(req.Tags) > maxTagsPerFunction {
		return invalid(msgTooManyTags)
	}
	if err := s.refuseVPCLocked(req.VpcConfig); err != nil {
		return err
	}
	if err := s.refuseCreateLocked(&req); err != nil {
		return err
	}
	if req.PackageType == "" {
		req.PackageType = "Zip"
	}
	if req.MemorySize == 0 {
		req.MemorySize = 128
	}
	if req.Timeout == 0 {
		req.Timeout = 3
	}
	if len(req.Architectures) == 0 {
		req.Architectures = []string{"x86_64"}
	}
	if req.EphemeralStorage == nil {
		req.EphemeralStorage = &ephemeralStorage{Size: 512}
	}
	logCfg := &loggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + req.FunctionName}
	if req.LoggingConfig != nil {
		if req.LoggingConfig.LogGroup != "" {
			logCfg.LogGroup = req.LoggingConfig.LogGroup
		}
		if req.LoggingConfig.LogFormat != "" {
			logCfg.LogFormat = req.LoggingConfig.LogFormat
		}
	}
	hash, size := codeHash(req.Code)
	f := &function{
		cfg: configuration{
			FunctionName: req.FunctionName, FunctionArn: s.arn(req.FunctionName), Runtime: req.Runtime,
			Role: req.Role, Handler: req.Handler, CodeSize: size, Description: req.Description,
			Timeout: req.Timeout, MemorySize: req.MemorySize, LastModified: now.UTC().Format(lastModifiedLayout),
			CodeSha256: hash, Version: "$LATEST", Environment: req.Environment, RevisionId: newID(),
			State: "Pending", StateReason: "The function is being created.", StateReasonCode: "Creating",
			LastUpdateStatus: "InProgress", PackageType: req.PackageType, Architectures: req.Architectures,
			EphemeralStorage: req.EphemeralStorage, LoggingConfig: logCfg,
		},
		code:    req.Code,
		tags:    maps.Clone(req.Tags),
		created: now,
	}
	if req.ImageConfig != nil {
		f.cfg.ImageConfigResponse = &imageConfigResponse{ImageConfig: req.ImageConfig}
	}
	if strings.HasSuffix(req.Code.ImageUri, ":fail-create") {
		f.cfg.State = "Failed"
		f.cfg.StateReasonCode = "ImageAccessDenied"
		f.cfg.StateReason = "Lambda does not have permission to access the ECR image. Check the ECR permissions. (emulated failure for tag fail-create)"
		f.cfg.LastUpdateStatus = "Failed"
	} else {
		f.activeAt = now.Add(s.opts.ActivationDelay)
		f.refresh(now)
	}
	if f.tags == nil {
		f.tags = map[string]string{}
	}
	s.functions[req.FunctionName] = f
	return writeJSON(w, http.StatusCreated, f.cfg)
}

func (s *Server) getFunction(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	code := map[string]string{}
	if f.code.ImageUri != "" {
		code["RepositoryType"] = "ECR"
		code["ImageUri"] = f.code.ImageUri
		code["ResolvedImageUri"] = strings.SplitN(f.code.ImageUri, ":", 2)[0] + "@sha256:" + hexOfB64(f.cfg.CodeSha256)
	} else {
		code["RepositoryType"] = "S3"
		code["Location"] = "https://awslambda-" + s.opts.Region + "-tasks.s3." + s.opts.Region + ".amazonaws.com/snapshots/" + f.cfg.FunctionName
	}
	out := map[string]any{"Configuration": f.cfg, "Code": code}
	if s.allowedLocked("lambda:ListTags") {
		out["Tags"] = f.tags // only with ListTags (see the package doc)
	}
	if f.concurrency != nil {
		out["Concurrency"] = map[string]int32{"ReservedConcurrentExecutions": *f.concurrency}
	}
	return writeJSON(w, http.StatusOK, out)
}

func hexOfB64(s string) string {
	b, _ := base64.StdEncoding.DecodeString(s)
	return hex.EncodeToString(b)
}

func (s *Server) getFunctionConfiguration(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, f.cfg)
}

// listFunctions pages by name with Marker/NextMarker. As on AWS, listed
// configurations carry no State or LastUpdateStatus.
func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	max := 50
	if v := q.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return invalid("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000", v)
		}
		max = min(n, 50)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.functions))
	for n := range s.functions {
		names = append(names, n)
	}
	sort.Strings(names)
	start := 0
	if m := q.Get("Marker"); m != "" {
		start = sort.SearchStrings(names, m)
		if start < len(names) && names[start] == m {
			start++
		}
	}
	out := struct {
		Functions  []configuration `json:"Functions"`
		NextMarker string          `json:"NextMarker,omitempty"`
	}{Functions: []configuration{}}
	for i := start; i < len(names) && len(out.Functions) < max; i++ {
		c := s.functions[names[i]].cfg
		c.State, c.StateReason, c.StateReasonCode = "", "", ""
		c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = "", "", ""
		out.Functions = append(out.Functions, c)
		if len(out.Functions) == max && i+1 < len(names) {
			out.NextMarker = names[i]
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	delete(s.functions, f.cfg.FunctionName)
	return writeJSON(w, http.StatusNoContent, nil)
}

// beginUpdate refuses an update while another is in progress, as Lambda does.
func (s *Server) beginUpdate(f *function) error {
	if f.cfg.State == "Pending" || f.cfg.LastUpdateStatus == "InProgress" {
		return conflict("The operation cannot be performed at this time. An update is in progress for resource: %s", f.cfg.FunctionArn)
	}
	now := s.opts.Now()
	previous := f.cfg
	f.serving, f.servingImage = &previous, f.code.ImageUri
	f.cfg.LastModified = now.UTC().Format(lastModifiedLayout)
	f.cfg.RevisionId = newID()
	f.cfg.LastUpdateStatus = "InProgress"
	f.cfg.LastUpdateStatusReason = "The function is being updated."
	f.cfg.LastUpdateStatusReasonCode = "Updating"
	f.updateDone = now.Add(s.opts.UpdateDelay)
	f.refresh(now)
	return nil
}

func (s *Server) updateFunctionCode(w http.ResponseWriter, r *http.Request) error {
	var req functionCode
	if err := decode(r, &req); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	if f.cfg.PackageType == "Image" && req.ImageUri == "" {
		return invalid("Please provide ImageUri when updating a function with packageType Image.")
	}
	if req.ImageUri != "" && !s.inRegion(req.ImageUri) {
		return invalid("Source image %s is not valid. Provide a valid source image.", req.ImageUri)
	}
	if err := s.refuseImageLocked(req.ImageUri); err != nil {
		return err
	}
	if err := s.beginUpdate(f); err != nil {
		return err
	}
	if strings.HasSuffix(req.ImageUri, ":fail-create") {
		// The update fails once it has run; the previous code stays.
		f.updateFails = &updateFailure{code: "ImageAccessDenied",
			reason: "Lambda does not have permission to access the ECR image. Check the ECR permissions. (emulated failure for tag fail-create)"}
		f.refresh(s.opts.Now())
		return writeJSON(w, http.StatusOK, f.cfg)
	}
	f.code = req
	f.cfg.CodeSha256, f.cfg.CodeSize = codeHash(req)
	return writeJSON(w, http.StatusOK, f.cfg)
}

func (s *Server) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request) error {
	var req createRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	probe := req
	probe.FunctionName, probe.PackageType, probe.Code = f.cfg.FunctionName, f.cfg.PackageType, f.code
	if probe.Role == "" {
		probe.Role = f.cfg.Role
	}
	if probe.Runtime == "" {
		probe.Runtime, probe.Handler = f.cfg.Runtime, f.cfg.Handler
	}
	if err := validateCreate(&probe); err != nil {
		return err
	}
	if err := s.refuseRoleLocked(req.Role); err != nil {
		return err
	}
	if err := s.refuseVPCLocked(req.VpcConfig); err != nil {
		return err
	}
	if err := s.beginUpdate(f); err != nil {
		return err
	}
	if req.Role != "" {
		f.cfg.Role = req.Role
	}
	if req.MemorySize != 0 {
		f.cfg.MemorySize = req.MemorySize
	}
	if req.Timeout != 0 {
		f.cfg.Timeout = req.Timeout
	}
	if req.Environment != nil {
		f.cfg.Environment = req.Environment
	}
	if req.ImageConfig != nil {
		f.cfg.ImageConfigResponse = &imageConfigResponse{ImageConfig: req.ImageConfig}
	}
	if req.EphemeralStorage != nil {
		f.cfg.EphemeralStorage = req.EphemeralStorage
	}
	if req.Description != "" {
		f.cfg.Description = req.Description
	}
	if req.Handler != "" {
		f.cfg.Handler = req.Handler
	}
	return writeJSON(w, http.StatusOK, f.cfg)
}

func (s *Server) byARN(arn string) (*function, error) {
	if !strings.HasPrefix(arn, "arn:aws:lambda:") {
		return nil, invalid("1 validation error detected: Value '%s' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:...", arn)
	}
	return s.get(arn)
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.byARN(r.PathValue("arn"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Tags": f.tags})
}

func (s *Server) tagResource(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Tags map[string]string `json:"Tags"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.byARN(r.PathValue("arn"))
	if err != nil {
		return err
	}
	if err := validateTags(req.Tags); err != nil {
		return err
	}
	merged := maps.Clone(f.tags)
	maps.Copy(merged, req.Tags)
	if len(merged) > maxTagsPerFunction {
		return invalid(msgTooManyTags)
	}
	f.tags = merged
	return writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) untagResource(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.byARN(r.PathValue("arn"))
	if err != nil {
		return err
	}
	for _, k := range r.URL.Query()["tagKeys"] {
		delete(f.tags, k)
	}
	return writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) createURL(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		AuthType   string `json:"AuthType"`
		InvokeMode string `json:"InvokeMode"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.AuthType != "NONE" && req.AuthType != "AWS_IAM" {
		return invalid("1 validation error detected: Value '%s' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]", req.AuthType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	if f.url != nil {
		return conflict("Failed to create function url config for [functionArn = %s]. Error message:  FunctionUrlConfig exists for this Lambda function", f.cfg.FunctionArn)
	}
	now := s.opts.Now().UTC().Format(time.RFC3339Nano)
	sum := sha256.Sum256([]byte(f.cfg.FunctionArn))
	f.url = &functionURL{
		FunctionUrl: fmt.Sprintf("https://%s.lambda-url.%s.on.aws/", hex.EncodeToString(sum[:])[:32], s.opts.Region),
		FunctionArn: f.cfg.FunctionArn, AuthType: req.AuthType, CreationTime: now, LastModifiedTime: now, InvokeMode: "BUFFERED",
	}
	return writeJSON(w, http.StatusCreated, f.url)
}

func (s *Server) getURL(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	if f.url == nil {
		return notFound("The resource you requested does not exist.")
	}
	return writeJSON(w, http.StatusOK, f.url)
}

func (s *Server) deleteURL(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	if f.url == nil {
		return notFound("The resource you requested does not exist.")
	}
	f.url = nil
	return writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) putConcurrency(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ReservedConcurrentExecutions *int32 `json:"ReservedConcurrentExecutions"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.ReservedConcurrentExecutions == nil || *req.ReservedConcurrentExecutions < 0 {
		return invalid("1 validation error detected: Value at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	others := s.reservedLocked() - int(ptrValue(f.concurrency))
	if s.opts.ConcurrentExecutions-others-int(*req.ReservedConcurrentExecutions) < minUnreserved {
		return invalid("Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [%d].", minUnreserved)
	}
	f.concurrency = req.ReservedConcurrentExecutions
	return writeJSON(w, http.StatusOK, map[string]int32{"ReservedConcurrentExecutions": *f.concurrency})
}

func (s *Server) deleteConcurrency(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	f.concurrency = nil
	return writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) accountSettings(w http.ResponseWriter, _ *http.Request) error {
	s.mu.Lock()
	n := len(s.functions)
	unreserved := s.opts.ConcurrentExecutions - s.reservedLocked()
	s.mu.Unlock()
	return writeJSON(w, http.StatusOK, map[string]any{
		"AccountLimit": map[string]any{"TotalCodeSize": int64(80530636800), "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
			"ConcurrentExecutions": s.opts.ConcurrentExecutions, "UnreservedConcurrentExecutions": unreserved},
		"AccountUsage": map[string]any{"TotalCodeSize": 0, "FunctionCount": n},
	})
}

// minUnreserved is what Lambda keeps unreserved in every account.
const minUnreserved = 100

// reservedLocked sums the functions' reserved concurrency.
func (s *Server) reservedLocked() int {
	sum := 0
	for _, f := range s.functions {
		sum += int(ptrValue(f.concurrency))
	}
	return sum
}

func ptrValue(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// inRegion says whether an ECR image is in the emulated region: Lambda
// runs images from ECR in the function's own region only (developer guide,
// "Create a Lambda function using a container image"; the answer to one in
// another region is our best reading of the "Source image … is not valid"
// error Lambda gives invalid images).
func (s *Server) inRegion(image string) bool {
	host, _, _ := strings.Cut(image, "/")
	_, rest, ok := strings.Cut(host, ".dkr.ecr.")
	if !ok {
		return false
	}
	region, _, _ := strings.Cut(rest, ".")
	return region == s.opts.Region
}

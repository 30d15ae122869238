package lambda

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Pod annotations the Lambda backend reads.
const (
	AnnotationRole    = "faas-kubelet.io/role-arn"
	AnnotationCode    = "faas-kubelet.io/code"
	AnnotationHandler = "faas-kubelet.io/handler"
	AnnotationTimeout = "faas-kubelet.io/timeout"
	// AnnotationURLAuth is the function URL's AuthType: AWS_IAM (default) or NONE.
	AnnotationURLAuth = "faas-kubelet.io/function-url-auth"
	// AnnotationConcurrency is the function's reserved concurrency.
	AnnotationConcurrency = "faas-kubelet.io/reserved-concurrency"
	// AnnotationSubnets and AnnotationSecurityGroups attach the function to
	// a VPC (comma-separated IDs).
	AnnotationSubnets        = "faas-kubelet.io/vpc-subnet-ids"
	AnnotationSecurityGroups = "faas-kubelet.io/vpc-security-group-ids"
	// AnnotationIRSA is the ServiceAccount annotation of EKS workload identity.
	AnnotationIRSA = "eks.amazonaws.com/role-arn"
)

// Lambda's limits.
const (
	minMemoryMiB  = 128
	maxMemoryMiB  = 10240
	minStorageMiB = 512
	maxStorageMiB = 10240
	maxEnvBytes   = 4096
	maxTimeout    = 900
	// defaultTimeout replaces Lambda's own default of 3 seconds
	// (CreateFunction API reference, Timeout), which ends most work a pod
	// was written for mid-way: a container has no deadline unless its pod
	// sets one.
	defaultTimeout = 60
	maxTags        = 50
	maxTagKey      = 128
	maxTagValue    = 256
	baseImageRepo  = "public.ecr.aws/lambda/"
)

var ecrImage = regexp.MustCompile(`^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/`)

// createInput maps a function to CreateFunction, refusing with
// errdefs.InvalidInput (naming the pod field) what Lambda cannot run.
func createInput(fn *translate.Function, o *Options) (*sdk.CreateFunctionInput, []string, error) {
	var notes []string
	in := &sdk.CreateFunctionInput{
		FunctionName: aws.String(fn.Name),
		Description:  aws.String(truncate(fn.Description, 256)),
		MemorySize:   aws.Int32(minMemoryMiB),
	}
	tags, note := fitTags(fn.Tags)
	in.Tags = tags
	if note != "" {
		notes = append(notes, note)
	}
	arch := fn.Architecture
	role, err := roleOf(fn, o)
	if err != nil {
		return nil, nil, err
	}
	in.Role = aws.String(role)

	if strings.HasPrefix(fn.Image, baseImageRepo) {
		code := fn.Annotations[AnnotationCode]
		if code == "" {
			return nil, nil, errdefs.InvalidInputf("spec.containers[0].image: %s is an AWS base image; give the function's code as annotation %s: s3://bucket/key.zip", fn.Image, AnnotationCode)
		}
		bucket, key, ok := parseS3(code)
		if !ok {
			return nil, nil, errdefs.InvalidInputf("metadata.annotations[%s]: %q is not s3://bucket/key", AnnotationCode, code)
		}
		runtime, built, err := runtimeOf(fn.Image)
		if err != nil {
			return nil, nil, err
		}
		if built != "" {
			if arch != "" && arch != built {
				return nil, nil, errdefs.InvalidInputf("spec.containers[0].image: %s is built for %s, but the pod asks for %s", fn.Image, built, arch)
			}
			arch = built
		}
		handler := fn.Annotations[AnnotationHandler]
		if handler == "" && len(fn.Command) > 0 {
			handler = fn.Command[0]
		}
		if handler == "" {
			return nil, nil, errdefs.InvalidInputf("metadata.annotations[%s]: a zip function needs a handler (annotation or spec.containers[0].command)", AnnotationHandler)
		}
		in.PackageType = types.PackageTypeZip
		in.Runtime = types.Runtime(runtime)
		in.Handler = aws.String(handler)
		in.Code = &types.FunctionCode{S3Bucket: aws.String(bucket), S3Key: aws.String(key)}
	} else {
		image := fn.Image
		if !ecrImage.MatchString(image) {
			if o.ECRPullThroughPrefix == "" {
				return nil, nil, errdefs.InvalidInputf("spec.containers[0].image: Lambda runs images only from Amazon ECR (<account>.dkr.ecr.<region>.amazonaws.com/...), not %s; push it to ECR or set the node's lambda.ecrPullThroughPrefix", image)
			}
			image = pullThrough(o.ECRPullThroughPrefix, image)
			notes = append(notes, fmt.Sprintf("image %s rewritten to the ECR pull-through cache: %s", fn.Image, image))
		}
		// Lambda runs images from ECR in the function's own region only
		// (developer guide, "Create a Lambda function using a container
		// image").
		if m := ecrImage.FindStringSubmatch(image); m != nil && o.Region != "" && m[1] != o.Region {
			field := "spec.containers[0].image"
			if image != fn.Image {
				field = "the node's lambda.ecrPullThroughPrefix"
			}
			return nil, nil, errdefs.InvalidInputf("%s: Lambda runs images only from ECR in the function's own region (%s); %s is in %s: replicate it to %s", field, o.Region, image, m[1], o.Region)
		}
		in.PackageType = types.PackageTypeImage
		in.Code = &types.FunctionCode{ImageUri: aws.String(image)}
		if len(fn.Command) > 0 || len(fn.Args) > 0 || fn.WorkingDir != "" {
			in.ImageConfig = &types.ImageConfig{EntryPoint: fn.Command, Command: fn.Args}
			if fn.WorkingDir != "" {
				in.ImageConfig.WorkingDirectory = aws.String(fn.WorkingDir)
			}
		}
	}
	if err := checkMemory(fn); err != nil {
		return nil, nil, err
	}
	if fn.MemoryMiB != 0 {
		in.MemorySize = aws.Int32(int32(fn.MemoryMiB))
	}
	if fn.EphemeralStorageMiB != 0 {
		if fn.EphemeralStorageMiB < minStorageMiB || fn.EphemeralStorageMiB > maxStorageMiB {
			return nil, nil, errdefs.InvalidInputf("spec.containers[0].resources.limits.ephemeral-storage: Lambda ephemeral storage must be between %d and %d MiB; the pod asks for %d MiB", minStorageMiB, maxStorageMiB, fn.EphemeralStorageMiB)
		}
		in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(int32(fn.EphemeralStorageMiB))}
	}
	for _, k := range sortedKeys(fn.Env) {
		if !envNameRE.MatchString(k) {
			return nil, nil, errdefs.InvalidInputf("spec.containers[0].env[%s]: Lambda environment variable names start with a letter and have at least two letters, digits or underscores ([a-zA-Z]([a-zA-Z0-9_])+)", k)
		}
	}
	env, note := fn.EnvWithin(maxEnvBytes, envBytes)
	if note != "" {
		notes = append(notes, note)
	}
	if len(env) > 0 {
		if size := envBytes(env); size > maxEnvBytes {
			return nil, nil, errdefs.InvalidInputf("spec.containers[0].env: Lambda allows %d bytes of environment variables; the pod's take %d", maxEnvBytes, size)
		}
		in.Environment = &types.Environment{Variables: env}
	}
	in.Timeout = aws.Int32(defaultTimeout)
	if d := fn.ActiveDeadlineSeconds; d > 0 {
		// A run-once pod's deadline is its invocation's timeout.
		in.Timeout = aws.Int32(int32(min(d, maxTimeout)))
		if d > maxTimeout {
			notes = append(notes, fmt.Sprintf("spec.activeDeadlineSeconds is %d s; Lambda ends an invocation after at most %d s", d, maxTimeout))
		}
	}
	if t := fn.Annotations[AnnotationTimeout]; t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > maxTimeout {
			return nil, nil, errdefs.InvalidInputf("metadata.annotations[%s]: timeout must be 1-%d seconds, got %q", AnnotationTimeout, maxTimeout, t)
		}
		in.Timeout = aws.Int32(int32(n))
	}
	subnets, groups := splitIDs(fn.Annotations[AnnotationSubnets]), splitIDs(fn.Annotations[AnnotationSecurityGroups])
	if (len(subnets) == 0) != (len(groups) == 0) {
		return nil, nil, errdefs.InvalidInputf("metadata.annotations[%s]: a VPC needs both %s and %s", AnnotationSubnets, AnnotationSubnets, AnnotationSecurityGroups)
	}
	if len(subnets) > 0 {
		in.VpcConfig = &types.VpcConfig{SubnetIds: subnets, SecurityGroupIds: groups}
	}
	if _, err := extras(fn); err != nil {
		return nil, nil, err
	}
	switch arch {
	case "arm64":
		in.Architectures = []types.Architecture{types.ArchitectureArm64}
	case "amd64":
		in.Architectures = []types.Architecture{types.ArchitectureX8664}
	}
	return in, notes, nil
}

// checkMemory refuses a memory Lambda does not give a function: MemorySize
// is 128 to 10,240 MB, in steps of 1 MB, at create and at update alike
// (CreateFunction and UpdateFunctionConfiguration API reference,
// MemorySize). 0 is Lambda's default, 128 MB.
func checkMemory(fn *translate.Function) error {
	if fn.MemoryMiB != 0 && (fn.MemoryMiB < minMemoryMiB || fn.MemoryMiB > maxMemoryMiB) {
		return errdefs.InvalidInputf("%s: Lambda memory must be between %d and %d MiB; the pod asks for %d MiB", fn.MemoryField, minMemoryMiB, maxMemoryMiB, fn.MemoryMiB)
	}
	return nil
}

func parseS3(u string) (bucket, key string, ok bool) {
	rest, found := strings.CutPrefix(u, "s3://")
	if !found {
		return "", "", false
	}
	bucket, key, ok = strings.Cut(rest, "/")
	return bucket, key, ok && bucket != "" && key != ""
}

// runtimeOf maps an AWS base image to its managed runtime, and the
// architecture its tag names (the base images' tags 3.12-x86_64 and
// 3.12-arm64), if any:
// public.ecr.aws/lambda/python:3.12 → python3.12,
// public.ecr.aws/lambda/nodejs:20-arm64 → nodejs20.x on arm64,
// public.ecr.aws/lambda/provided:al2023 → provided.al2023.
// A runtime that is not in Lambda's Runtime enum is refused here: Lambda
// would answer ValidationException.
func runtimeOf(image string) (runtime, arch string, err error) {
	repo, tag, _ := strings.Cut(strings.TrimPrefix(image, baseImageRepo), ":")
	if tag == "" || tag == "latest" {
		return "", "", errdefs.InvalidInputf("spec.containers[0].image: %s needs a version tag (for example python:3.12) to choose a Lambda runtime", image)
	}
	if t, ok := strings.CutSuffix(tag, "-x86_64"); ok {
		tag, arch = t, "amd64"
	} else if t, ok := strings.CutSuffix(tag, "-arm64"); ok {
		tag, arch = t, "arm64"
	}
	switch repo {
	case "python", "ruby", "java", "dotnet":
		runtime = repo + tag
	case "nodejs":
		runtime = "nodejs" + tag + ".x"
	case "provided":
		runtime = "provided." + tag
	default:
		return "", "", errdefs.InvalidInputf("spec.containers[0].image: %s is not an AWS base image with a managed runtime", image)
	}
	if !slices.Contains(types.Runtime("").Values(), types.Runtime(runtime)) {
		return "", "", errdefs.InvalidInputf("spec.containers[0].image: %s would run on Lambda runtime %s, which Lambda does not have", image, runtime)
	}
	return runtime, arch, nil
}

// Lambda's API model (API reference: Environment, Variables, Key Pattern;
// CreateFunction, Role, Pattern).
var (
	envNameRE = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`)
	roleRE    = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
)

// roleOf is the function's execution role: the pod's annotation, its
// ServiceAccount's, or the node's default, which must be an IAM role ARN.
func roleOf(fn *translate.Function, o *Options) (string, error) {
	if role := fn.Annotations[AnnotationRole]; role != "" {
		if !roleRE.MatchString(role) {
			return "", errdefs.InvalidInputf("metadata.annotations[%s]: %q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", AnnotationRole, role)
		}
		return role, nil
	}
	if role := fn.ServiceAccountAnnotations[AnnotationIRSA]; role != "" {
		if !roleRE.MatchString(role) {
			return "", errdefs.InvalidInputf("spec.serviceAccountName: the ServiceAccount's annotation %s, %q, is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", AnnotationIRSA, role)
		}
		return role, nil
	}
	if o.DefaultRole == "" {
		return "", errdefs.InvalidInputf("metadata.annotations[%s]: no execution role: annotate the pod, annotate its ServiceAccount with %s, or set the node's lambda.executionRoleArn", AnnotationRole, AnnotationIRSA)
	}
	if !roleRE.MatchString(o.DefaultRole) {
		// The node's configuration, not the pod: fixed by an admin.
		return "", provider.Refused(provider.ReasonConfigError, fmt.Errorf("the node's lambda.executionRoleArn %q is not an IAM role ARN", o.DefaultRole))
	}
	return o.DefaultRole, nil
}

// ownTags are the tags faas-kubelet puts on every function (its pod's
// identity) or on a Job's later (its progress, with TagResource): they
// come first in Lambda's budget of tags.
var ownTags = []string{
	translate.TagPodUID, translate.TagPodNamespace, translate.TagPodName, translate.TagNode,
	translate.TagJobState, translate.TagJobRestarts, translate.TagJobMessage,
}

// fitTags keeps the function's tags within what Lambda allows a function
// (50 tags, keys of at most 128 characters, values of at most 256; see
// the emulator's package doc for the sources): faas-kubelet's own tags
// first, room kept for the Job tags added later, then the pod's labels in
// key order while they fit. The labels left out are named in the note: a
// label tags the function, the pod runs without it.
func fitTags(all map[string]string) (map[string]string, string) {
	out := map[string]string{}
	for _, k := range ownTags {
		if v, ok := all[k]; ok {
			out[k] = v
		}
	}
	room := maxTags - len(ownTags)
	var tooMany, tooLong []string
	for _, k := range sortedKeys(all) {
		if slices.Contains(ownTags, k) {
			continue
		}
		switch {
		case utf8.RuneCountInString(k) > maxTagKey || utf8.RuneCountInString(all[k]) > maxTagValue:
			tooLong = append(tooLong, k)
		case room == 0:
			tooMany = append(tooMany, k)
		default:
			out[k] = all[k]
			room--
		}
	}
	var why []string
	if len(tooMany) > 0 {
		why = append(why, fmt.Sprintf("%s (Lambda allows %d tags per function, and faas-kubelet keeps %d of them)", strings.Join(tooMany, ", "), maxTags, len(ownTags)))
	}
	if len(tooLong) > 0 {
		why = append(why, fmt.Sprintf("%s (longer than Lambda's %d-character tag keys or %d-character values)", strings.Join(tooLong, ", "), maxTagKey, maxTagValue))
	}
	if len(why) == 0 {
		return out, ""
	}
	return out, "pod labels not copied to the function's tags: " + strings.Join(why, "; ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// pullThrough rewrites a public image to an ECR pull-through cache prefix:
// nginx:1 → <prefix>/library/nginx:1, quay.io/org/app:1 → <prefix>/org/app:1.
func pullThrough(prefix, image string) string {
	first, rest, found := strings.Cut(image, "/")
	if !found {
		return strings.TrimSuffix(prefix, "/") + "/library/" + image
	}
	if strings.ContainsAny(first, ".:") {
		image = rest
	}
	return strings.TrimSuffix(prefix, "/") + "/" + image
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func splitIDs(v string) []string {
	var out []string
	for _, id := range strings.Split(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// extra is what is set up after CreateFunction: a function URL and reserved
// concurrency.
type extra struct {
	urlAuth     types.FunctionUrlAuthType // empty: no URL
	concurrency *int32
}

func extras(fn *translate.Function) (extra, error) {
	var e extra
	if len(fn.Ports) > 0 {
		e.urlAuth = types.FunctionUrlAuthTypeAwsIam
		switch a := fn.Annotations[AnnotationURLAuth]; a {
		case "", "AWS_IAM":
		case "NONE":
			e.urlAuth = types.FunctionUrlAuthTypeNone
		default:
			return e, errdefs.InvalidInputf("metadata.annotations[%s]: %q is not AWS_IAM or NONE", AnnotationURLAuth, a)
		}
	}
	if c := fn.Annotations[AnnotationConcurrency]; c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			return e, errdefs.InvalidInputf("metadata.annotations[%s]: %q is not a whole number of concurrent executions", AnnotationConcurrency, c)
		}
		e.concurrency = aws.Int32(int32(n))
	}
	return e, nil
}

// envBytes measures an environment as the 4 KB limit counts it: names and
// values.
func envBytes(env map[string]string) int {
	n := 0
	for k, v := range env {
		n += len(k) + len(v)
	}
	return n
}

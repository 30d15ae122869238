// Package lambda is a local AWS Lambda + CloudWatch Logs that the real
// aws-sdk-go-v2 clients cannot tell from AWS for everything faas-kubelet uses.
// Point the SDKs at it with BaseEndpoint; both services share one listener
// (Lambda's restJson1 paths, and Logs' awsJson1_1 POST / with X-Amz-Target).
//
// Faithful to the cloud: the same paths and status codes (CreateFunction 201,
// DeleteFunction 204, Invoke 200 / Event 202 / DryRun 204), errors typed by
// the X-Amzn-ErrorType header and a JSON body, SigV4 signatures verified (a
// wrong secret gets 403), function names or percent-escaped ARNs, State
// (Pending → Active after ActivationDelay) and LastUpdateStatus (InProgress →
// Successful after UpdateDelay, 409 to an update while one is in progress),
// ListFunctions paged with Marker/NextMarker and, as on AWS, without State.
// While an update is InProgress, invocations run the previous configuration
// (its environment) until it completes, and a failed update leaves the
// previous code in place ("Function states during updates",
// https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
//
// Requests that break Lambda's API model answer 400 ValidationException
// "1 validation error detected: Value ... at '<member>' failed to satisfy
// constraint: ..." before anything is looked up (Lambda's answer for model
// constraints, "The input fails to satisfy the constraints specified by an
// AWS service", Common Errors,
// https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html; its
// wording as Lambda sends it for a role, e.g.
// https://gist.github.com/lfn3/d3231da6550e61e1cb6e7fa66311cd1e):
//   - Role: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+
//     (API_CreateFunction, Role, Pattern).
//   - Runtime: one of the Runtime enum (API_CreateFunction, Runtime, Valid
//     Values; the SDK's types.Runtime values).
//   - Environment variable names: [a-zA-Z]([a-zA-Z0-9_])+ (API_Environment,
//     Variables, Key Pattern).
//   - Description, on CreateFunction and UpdateFunctionConfiguration: at
//     most 256 characters (API_CreateFunction, Description, Length
//     Constraints: Maximum length of 256).
//   - Tags, on CreateFunction and TagResource: keys 1-128 characters, values
//     at most 256 (AWS::Lambda::Function Tag, Key and Value,
//     https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-lambda-function-tag.html).
//   - At most 50 tags per function: CreateFunction with more, and a
//     TagResource that would take the function past 50 (counting the tags
//     it has), answer 400 InvalidParameterValueException "Number of tags
//     exceeds resource tag limit." and change nothing ("Maximum number of
//     tags per resource – 50", Tagging AWS resources, Tag naming limits and
//     requirements, https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html#tag-conventions).
//
// An Active function made Inactive (Deactivate, or POST
// /_emulator/functions/{name}/deactivate; StateReasonCode Idle), as Lambda
// makes one idle long enough to reclaim its resources, fails its next
// invocation with 502 ResourceNotReadyException and is restored: Pending
// (StateReasonCode Restoring; invocations answer 409) for ActivationDelay,
// then Active ("When you try to invoke a function that is inactive, the
// invocation fails and Lambda sets the function to pending state until the
// function resources are recreated", Lambda function states; the error and
// its text, Invoke API reference, ResourceNotReadyException).
//
// Emulated functions behave deterministically:
//   - Invoke echoes the payload (an empty payload answers {}).
//   - A payload {"fail": "msg"}, or the function environment variable
//     EMULATOR_FAIL=msg, makes the invocation a function error
//     (X-Amz-Function-Error: Unhandled, body {"errorMessage": "msg", ...}).
//   - A payload {"sleepMs": N} sleeps N ms (at most 30 s) before answering.
//     Past the function's Timeout (3 s when CreateFunction sets none: "The
//     default is 3 seconds, and the maximum allowed value is 900 seconds",
//     CreateFunction API reference, Timeout) the invocation ends at the
//     Timeout as Lambda ends it: X-Amz-Function-Error Unhandled, body
//     {"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id>
//     Error: Task timed out after N.NN seconds"}, and the log line
//     "<time> <id> Task timed out after N.NN seconds" after REPORT (the
//     shapes of Lambda's runtime interface emulator,
//     aws/aws-lambda-runtime-interface-emulator, and of Lambda's answers
//     as users report them, e.g.
//     alexa-samples/skill-sample-nodejs-smarthome-switch#18).
//   - The function environment variable EMULATOR_LOG=text adds that line to
//     each invocation's log, between START and END/REPORT.
//   - A payload {"env": true} answers a JSON object of the function's
//     environment variables, as its configuration holds them (while an
//     update is in progress, the previous ones); through a function URL,
//     a query string with env (?env=1) does. This is the emulator's
//     convenience, not a Lambda behaviour: a real function would have to
//     be written to do it. Nothing else is added (no credentials, none of
//     the variables Lambda itself sets). It comes before EMULATOR_FAIL.
//   - Every invocation ends with Lambda's REPORT line (Duration, Billed
//     Duration, Memory Size, Max Memory Used); Max Memory Used is the
//     environment variable EMULATOR_MEMORY_MB, else 42.
//   - An EMULATOR_MEMORY_MB over the function's MemorySize is an invocation
//     killed for its memory, as Lambda kills one: X-Amz-Function-Error
//     Unhandled, body {"errorType": "Runtime.OutOfMemory", "errorMessage":
//     "RequestId: <id> Error: Runtime exited with error: signal: killed"},
//     and after END a REPORT whose Max Memory Used is the Memory Size,
//     ending "Status: error\tError Type: Runtime.OutOfMemory", then the
//     lines "RequestId: <id> Error: Runtime exited with error: signal:
//     killed" and "Runtime.OutOfMemory". The body as Lambda answers it:
//     adobe/helix-html2md-service#1001 (older answers had errorType
//     Runtime.ExitError with the same message,
//     awslabs/amazon-s3-find-and-forget#283); Max Memory Used at the
//     Memory Size: domino14/macondo#294; the REPORT's Status and Error Type
//     and the lines after it are our best reading, from Lambda's
//     INIT_REPORT "Status: error\tError Type: ..." (aws/aws-lambda-go#554),
//     its "Status: timeout", and the runtime error lines after REPORT
//     (aws/aws-lambda-dotnet#480). The runtime is killed before the
//     payload is read, so no sleep or echo follows.
//   - An image the images knob (see Images) says was built for another
//     architecture than the function's (Architectures; x86_64 when
//     CreateFunction names none) is created, goes Active and updates like
//     any other: Lambda does not inspect a single-architecture image's
//     platform ("You need to build the function image for only one
//     architecture. Lambda does not support multi-architecture images",
//     https://docs.aws.amazon.com/lambda/latest/dg/runtimes-images.html).
//     Every invocation fails to start
//     it: X-Amz-Function-Error Unhandled, body {"errorType":
//     "Runtime.InvalidEntrypoint", "errorMessage": "RequestId: <id>
//     Error: fork/exec /lambda-entrypoint.sh: exec format error"} (the
//     ImageConfig EntryPoint's first element, when set), and the log
//     lines "IMAGE\tLaunch error: fork/exec /lambda-entrypoint.sh: exec
//     format error\tEntrypoint: [/lambda-entrypoint.sh]\tCmd:
//     [...]\tWorkingDir: [/var/task]" (ImageConfig's, else those), an
//     INIT_REPORT "Phase: invoke\tStatus: error\tError Type:
//     Runtime.InvalidEntrypoint", START, "RequestId: <id> Error: ...",
//     "Runtime.InvalidEntrypoint", END and REPORT (Max Memory Used 3 MB);
//     the function's code never runs, so EMULATOR_LOG is not written. A
//     function URL answers it 502 like any function error. The shapes as
//     users report them: aws/aws-lambda-base-images#34 and #26 (the IMAGE
//     line), aws-samples/bedrock-access-gateway#32 and
//     aws-samples/amazon-textract-idp-cdk-constructs#4 (the body),
//     ed-roh/learning-management#9 and aws/aws-lambda-go#554 (the log
//     lines); the Cmd and WorkingDir an image sets itself, which the
//     emulator does not know, are our best reading. By default (no knob)
//     every image runs on either architecture.
//   - The registry (registry.go) shows what the images knob says: an
//     image it lists has a single-architecture manifest whose config
//     names its architecture (amd64, arm64), read with a token from ECR's
//     GetAuthorizationToken as basic auth user AWS ("Private registry
//     authentication in Amazon ECR", https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry_auth.html),
//     ecr:BatchGetImage for a manifest and ecr:GetDownloadUrlForLayer for
//     a blob (the permissions docker pull needs, "Private repository
//     policies"); 401 without a valid token (12 hours, GetAuthorizationToken
//     reference), 403 DENIED without the action, 404 MANIFEST_UNKNOWN for
//     an image the knob does not list. Blobs are served, not redirected to
//     S3; the challenge and error wording are our best reading of the
//     Docker Registry HTTP API V2.
//   - An image whose tag is "fail-create" makes the function go Failed
//     (StateReasonCode ImageAccessDenied) instead of Active; given to
//     UpdateFunctionCode, it makes the update end Failed
//     (LastUpdateStatusReasonCode ImageAccessDenied) with the previous code
//     kept.
//
// Refusals (see Refusals) are what the account cannot use yet; Lambda
// answers each synchronously with HTTP 400, before anything changes, and
// removing the entry makes the next call succeed:
//   - A role listed: CreateFunction, and UpdateFunctionConfiguration naming
//     it, answer InvalidParameterValueException "The role defined for the
//     function cannot be assumed by Lambda." (API_CreateFunction, Errors:
//     InvalidParameterValueException, "if you provided an IAM role ... that
//     Lambda is unable to assume";
//     https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html,
//     message as Lambda sends it, e.g. serverless/serverless#6876).
//   - An image listed: CreateFunction and UpdateFunctionCode with that
//     ImageUri answer InvalidParameterValueException "Source image <uri>
//     does not exist. Provide a valid source image." (Lambda's answer for
//     an ECR tag that was never pushed, e.g. aws/aws-cdk#24648; the same
//     error type as its "Source image <uri> is not valid" answer).
//   - An index listed (indexes): the image is a multi-architecture index,
//     which Lambda does not run (developer guide, "Create a Lambda function
//     using a container image": one architecture per image); CreateFunction
//     and UpdateFunctionCode answer InvalidParameterValueException "The
//     image manifest, config or layer media type for the source image <uri>
//     is not supported." (Lambda's answer, e.g. boto/boto3#3255,
//     aws-samples/bedrock-access-gateway#206).
//   - An image from another region's ECR: InvalidParameterValueException
//     "Source image <uri> is not valid. Provide a valid source image." (the
//     rule is the developer guide's; the message for this case is our best
//     reading of Lambda's answer to an invalid image).
//   - quotaExceeded: CreateFunction answers CodeStorageExceededException
//     "Code storage limit exceeded." (API_CreateFunction, Errors:
//     CodeStorageExceededException, HTTP 400, "Your Amazon Web Services
//     account has exceeded its maximum total code size"; the account quota
//     is in https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html;
//     message as Lambda sends it, e.g. serverless-nextjs/serverless-next.js#1801).
//
// Refusals are checked once the request is valid and, for CreateFunction,
// once the name is found free (an existing function answers 409 first).
//
// Permissions (see Permissions) are the IAM actions the caller's policy
// allows; by default every action, as the shipped policy allows every
// action faas-kubelet uses:
//   - An operation whose action is not allowed answers 403
//     AccessDeniedException "User: ... is not authorized to perform:
//     lambda:<Action> on resource: <arn> because no identity-based policy
//     allows the lambda:<Action> action" (Troubleshooting Lambda identity
//     and access, https://docs.aws.amazon.com/lambda/latest/dg/security_iam_troubleshoot.html);
//     Invoke's action is lambda:InvokeFunction.
//   - GetFunction returns Tags only when lambda:ListTags is allowed ("Lambda
//     returns tag data only if you have explicit allow permissions for
//     lambda:ListTags", GetFunction API reference, GetFunctionOutput.Tags;
//     https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html).
//   - CreateFunction and UpdateFunctionConfiguration with a VpcConfig
//     naming subnets need ec2:DescribeSecurityGroups, ec2:DescribeSubnets
//     and ec2:DescribeVpcs, else answer AccessDeniedException naming the
//     first one missing ("When you configure VPC connectivity, Lambda uses
//     your permissions to verify network resources ... User permissions",
//     Giving Lambda functions access to resources in an Amazon VPC,
//     https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html).
//
// Resource-based policies and function URLs:
//   - AddPermission (POST /2015-03-31/functions/{name}/policy) answers 201
//     {"Statement": "<the statement as JSON>"}, 409 ResourceConflictException
//     for a StatementId in use; RemovePermission answers 204, 404
//     ResourceNotFoundException for a missing StatementId; GetPolicy answers
//     200 {"Policy": "<JSON>", "RevisionId"}, 404 when the function has no
//     policy (AddPermission, RemovePermission and GetPolicy API references).
//     FunctionUrlAuthType becomes the condition lambda:FunctionUrlAuthType,
//     InvokedViaFunctionUrl the condition lambda:InvokedViaFunctionUrl.
//   - A request whose Host is the one CreateFunctionUrlConfig handed out
//     (<id>.lambda-url.<region>.on.aws; send it to the emulator's listener
//     with that Host) is the function URL: it becomes a payload format 2.0
//     event, and the function's output the response (statusCode, headers,
//     cookies, body, isBase64Encoded, else a 200 JSON body; a function error
//     is 502) (Lambda function URL request and response payloads,
//     https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html).
//   - Auth type NONE answers 403 {"Message":"Forbidden"} unless the policy
//     allows Principal "*" both lambda:InvokeFunctionUrl (its
//     lambda:FunctionUrlAuthType condition, if any, NONE) and
//     lambda:InvokeFunction ("Starting in October 2025, new function URLs
//     will require both lambda:InvokeFunctionUrl and lambda:InvokeFunction
//     permissions"; "If a function's resource-based policy doesn't grant
//     lambda:invokeFunctionUrl permissions, then users will get a 403
//     Forbidden error code ... even if the function URL uses the NONE auth
//     type", Control access to Lambda function URLs,
//     https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html). Auth type
//     AWS_IAM answers 403 unless the request is signed (SigV4, service
//     lambda) by a caller allowed both actions.
//
// CloudWatch Logs reads follow the API reference's contract, and the logs
// behaviour (see LogsBehaviour) exercises its looser corners:
//   - Events become visible IngestionDelayMs after they are written (by an
//     invocation, AppendLog or PutLogEvents), with their original
//     timestamp, so a line can arrive after newer ones.
//   - DescribeLogStreams' lastEventTimestamp and lastIngestionTime count an
//     event only StreamStatsDelayMs after it is visible, and LastEventTime
//     ordering uses those values ("The lastEventTime value updates on an
//     eventual consistency basis. It typically updates in less than an
//     hour from ingestion", LogStream,
//     https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_LogStream.html).
//   - FilterLogEvents and GetLogEvents pages hold at most PageSize events,
//     and every read answers EmptyPages empty pages with a token leading on
//     before its data ("A returned page might only be partially full, or
//     even empty ... Partially full or empty pages don't necessarily mean
//     that pagination is finished", GetLogEvents and FilterLogEvents,
//     https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html,
//     and the SDK's doc comments).
//   - GetLogEvents' end, in either direction, is the token passed in coming
//     back ("If you have reached the end of the stream, it returns the same
//     token you passed in", GetLogEvents, nextBackwardToken); FilterLogEvents
//     ends when it returns no nextToken, and its events carry an eventId
//     (FilteredLogEvent), GetLogEvents' do not (OutputLogEvent).
//
// Knobs: latency per request, injected errors per operation (status and
// count), counters of calls per operation, the logs behaviour, the
// refusals, the permissions and the images' architectures; in process
// through Options and methods (SetLogsBehaviour, SetRefusals,
// SetPermissions, SetImages), out of process through
// /_emulator/faults, /_emulator/calls, /_emulator/logs (PUT a LogsBehaviour
// {"ingestionDelayMs": 2000, "streamStatsDelayMs": 0, "pageSize": 0,
// "emptyPages": 0}, GET, DELETE), /_emulator/refusals (PUT
// {"roles": [...], "images": [...], "quotaExceeded": true}, GET, DELETE),
// /_emulator/permissions (PUT {"allow": ["lambda:GetFunction", ...]},
// GET, DELETE) and /_emulator/images (SetImages; PUT {"architectures":
// {"<image uri>": "arm64"}}, each value x86_64 or arm64, else 400; GET,
// DELETE).
package lambda

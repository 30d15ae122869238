// Package alibaba is a local Alibaba Cloud Function Compute 2.0 (API
// 2021-04-06) + Simple Log Service that the real SDKs (fc-open-20210406/v2
// on darabonba-openapi v2, and aliyun-log-go-sdk) cannot tell from the cloud
// for everything faas-kubelet uses. Both services share one listener: FC's
// ROA paths under /2021-04-06/ and its HTTP-trigger proxy under
// /2016-08-15/proxy/, and SLS's /logstores/ paths, whose project comes from
// the virtual-hosted Host header <project>.<endpoint> (point the SLS client
// at any endpoint and dial the emulator's address whatever the host).
//
// Faithful to the cloud: the same paths, methods and status codes (creates
// and updates 200, deletes 204, InvokeFunction 200 / Async 202), FC errors as
// {"errorCode", "errorMessage"} with an x-fc-request-id header (404
// ServiceNotFound / FunctionNotFound / TriggerNotFound, 409 *AlreadyExists,
// 400 InvalidArgument, 412 ServiceNotEmpty / FunctionNotEmpty), the ACS3-
// HMAC-SHA256 signature recomputed and checked against the body's SHA-256
// (403 InvalidAccessKeyID / SignatureNotMatch), SLS's v1 "LOG" signature
// (401 Unauthorized / SignatureNotMatch), FC's name, memory (per instance
// type, see below), timeout (1–86400), concurrency and Container Registry image
// rules, list paging with limit (default 20, at most 100), nextToken, prefix
// and startKey, tags on services (acs:fc:<region>:<account>:services/<name>,
// at most 20), custom-container image acceleration (accelerationInfo.status
// Preparing for AccelerationDelay, then Ready), and HTTP triggers whose
// urlInternet the emulator serves, checking the "FC" signature when the
// trigger's authType is "function".
//
// Rules the emulator enforces, each with the document it follows:
//   - Tags (TagResource, FC 2.0 API 2021-04-06,
//     https://www.alibabacloud.com/help/en/functioncompute/fc-2-0/developer-reference/api-fc-open-2021-04-06-tagresource):
//     keys and values are 1 to 128 characters ("key ... [1, 128]",
//     "value ... [1, 128]"), counted as Unicode characters as FC's "Configure
//     tags" page counts them; keys may not start with aliyun or acs:; keys and
//     values may not contain http:// or https:// (matched ignoring case: our
//     reading, the stricter one). Refused with 400 InvalidArgument. Only
//     TagResource writes tags in FC 2.0 (CreateService takes none).
//   - Memory per instance type (CreateFunction's instanceType and
//     memorySize, API 2021-04-06, which point to "Instance types and usage
//     modes"; the values are those ALIYUN::FC::Function lists,
//     https://help.aliyun.com/document_detail/115390.html): instanceType is
//     e1 (elastic, the default), c1 (performance) or a GPU type; e1 takes
//     128 to 3,072 MB in steps of 64, c1 takes 4,096, 8,192, 16,384 or
//     32,768 MB; GPU types keep the general 128 to 32,768 MB rule. Create
//     and update check the function as it would be stored; 400
//     InvalidArgument.
//   - An image of a Container Registry Enterprise Edition instance (a
//     *.<region>.cr.aliyuncs.com host) needs customContainerConfig.instanceID
//     ("You must specify this parameter if you use an image of Container
//     Registry Enterprise Edition", CustomContainerConfig, API 2021-04-06,
//     https://www.alibabacloud.com/help/en/fc/developer-reference/api-fc-open-2021-04-06-struct-customcontainerconfig).
//     CreateFunction and UpdateFunction without it answer 400
//     InvalidArgument; the code and message are our reading (FC's answer is
//     not documented). The emulator does not check that the ID names the
//     image's instance.
//   - A key: value search names a field through its field index: on a
//     field the logstore has no index for it matches nothing (Simple Log
//     Service, "Create indexes"; the answer without an index is our best
//     reading). Every field FC writes is indexed by default;
//     SetUnindexedFields removes indexes; __topic__ and __source__ are
//     always searchable.
//   - GetLogs may be incomplete: SLS answers progress Incomplete (header
//     x-log-progress, meta.progress) when a query has not read all the data,
//     and then "you must repeat the request" (SLS GetLogs API). The knob
//     SetIncompleteLogs(n) makes the next n GetLogs answers Incomplete with
//     no results (in process only).
//
// Emulated functions behave deterministically, whether invoked through
// InvokeFunction or an HTTP trigger:
//   - The payload is echoed (an empty payload answers {}).
//   - A payload {"fail": "msg"}, or the function environment variable
//     EMULATOR_FAIL=msg, makes it a function error: status 200, header
//     X-Fc-Error-Type: UnhandledInvocationError and body
//     {"errorMessage": "msg", "errorType": "Error", "stackTrace": []}.
//   - A payload {"sleepMs": N} runs N ms before answering (Options.Sleep
//     passes the time; without it the emulator sleeps, at most 30 s).
//   - A run longer than the function's timeout (seconds) ends at the
//     timeout as a function error: X-Fc-Error-Type UnhandledInvocationError
//     and {"errorMessage": "Function timed out after N seconds
//     (maxMemoryUsage: M.MMMB)"}, the log's end line "FC Invoke End
//     RequestId: <id>, Error: <message>". The message is the one FC users
//     report (dyc87112/OpenAIProxy#3: {"errorMessage":"Function timed out
//     after 30 seconds (maxMemoryUsage: 47.28MB)"}); FC's page "What do I do
//     if a function execution times out and "Function time out after" is
//     reported?" (fc-2-0/how-to-handle-an-execution-timeout-error) says FC
//     "terminates the execution and returns" it; that a timeout is an
//     unhandled error ("Unhandled error: ... request timeouts, out of
//     memory") is FC's "Error types" page
//     (https://www.alibabacloud.com/help/ja/fc/error-types). The log line's
//     shape follows "FC Invoke End RequestId: ..., Error: Invocation
//     canceled by client (duration: ..., maxMemoryUsage: ...)" (FC,
//     "invocation canceled by client").
//   - A function whose EMULATOR_MEMORY_MB exceeds its memorySize is killed
//     out of memory: {"errorMessage": "Process exited unexpectedly before
//     completing request (duration: Nms, maxMemoryUsage: <memorySize>MB)"},
//     X-Fc-Error-Type UnhandledInvocationError and X-Fc-Max-Memory-Usage
//     <memorySize>. FC gives an OOM kill no message of its own: "OOM due to
//     insufficient memory" is one cause of "Process exited unexpectedly
//     before completing request" (FC 3.0 FAQ,
//     process-exited-unexpectedly-before-completing-request-message), whose
//     body is that of any process exit (Error handling, Node.js and Java
//     runtimes: "Process exited unexpectedly before completing request
//     (duration: 43ms, maxMemoryUsage: 65MB)"); a peak at memorySize is our
//     reading of what tells an OOM kill apart. X-Fc-Max-Memory-Usage is
//     EMULATOR_MEMORY_MB, else 42, at most memorySize.
//   - An image whose tag is "fail-create" is refused by CreateFunction and
//     UpdateFunction with 400 InvalidArgument (the image cannot be pulled).
//   - An image whose tag is "fail-start" is created, and its container
//     cannot start (an image built for another architecture: "exec format
//     error"): every synchronous invocation and HTTP-trigger call answers
//     412 {"errorCode": "FunctionNotStarted", "errorMessage": "The CA's
//     http server cannot be started:ContainerStartDuration:25000000000.
//     Ping CA failed due to: dial tcp ...:9000: getsockopt: connection
//     refused Logs: exec /app/main: exec format error"}. Code and message
//     are FC 2.0's for a custom container whose server does not listen
//     ("What do I do if the FunctionNotStarted error occurs ...",
//     https://help.aliyun.com/document_detail/209245.htm, and "Must the
//     listening port of a custom container runtime be the same ..."); FC
//     2.0 documents no status for it: 412 is FC 3.0's for a function that
//     "either cannot be started or exited" (CAExited, API 2023-03-30 error
//     codes), our reading. An asynchronous invocation is accepted (202).
//   - The environment variable EMULATOR_LOG=text adds that line to each
//     invocation's log.
//
// An emulator convenience, not a cloud behaviour: a payload {"env": true},
// or an HTTP-trigger call with the query ?env=1, answers the function's
// environmentVariables as a JSON object, so tests can read the environment
// a function got.
//
// Each invocation writes "FC Invoke Start RequestId: <id>", the EMULATOR_LOG
// line, "Error: <msg>" when it failed and "FC Invoke End RequestId: <id>" to
// the logstore the service's logConfig names, with FC's fields (__topic__ =
// service name, serviceName, functionName, qualifier LATEST, versionId,
// message) and __time__ / __time_ns_part__ strictly increasing; with the
// logConfig's enableRequestMetrics, also FC's request-level metrics entry
// (__topic__ FCRequestMetrics:/<service>/<function>, requestId, durationMs,
// memoryMB, memoryUsageMB — the peak above —, invocationType,
// hasFunctionError, invocationStartTimestamp, operation InvokeFunction). The project
// and logstore come into being when a logConfig names them (the emulator
// serves no SLS management API; the cloud wants them created first). GetLogs
// (POST /logstores/<logstore>/logs, and the classic GET ?type=log) reads
// them back: from/to with nanosecond parts, line (at most 100), offset,
// reverse, and queries of * and key: value terms joined by and.
//
// Refusals model what an account can lack, each until it is removed (the
// next call then succeeds); they are set with SetRefusals or PUT
// /_emulator/refusals {"roles": [...], "images": [...], "quotaExceeded":
// bool}, read with GET and cleared with DELETE:
//   - A role listed is a RAM role FC cannot assume: CreateService and
//     UpdateService naming it answer 403 AccessDenied "No permission to
//     assume the role '<arn>' for you". Status and message are FC's answer
//     to POST /services as Serverless Devs shows it (awesome-fc/fc-faq,
//     docs/service_role.md); the code is the one FC's error-code table
//     (https://www.alibabacloud.com/help/en/functioncompute/error-codes)
//     gives for 403 with a free message, our reading.
//   - An image listed is not in Container Registry: CreateFunction and
//     UpdateFunction naming it answer 400 InvalidArgument "failed to get the
//     manifest of image '<image>': ...". FC 2.0 reports the image at create
//     and update because its functions have no state to report it in later
//     (GetFunction of API 2021-04-06 has no state or lastUpdateStatus; those
//     are FC 3.0's). InvalidArgument is the table's code for a parameter FC
//     refuses; the message is ours.
//   - quotaExceeded: CreateService and CreateFunction that would add a
//     service or a function answer 400 LimitExceededError ("functions,
//     triggers, custom domains and other resources exceed the limit", FC's
//     error-code table as developer.aliyun.com/ask/279119 quotes it; the
//     current table no longer lists it, so the code is our best reading and
//     the message ours). A create answered 409 because the resource exists
//     is not refused: it adds nothing.
//
// Knobs: latency per request, injected errors per operation (status and
// count; operations are the SDK action names, InvokeHTTPTrigger for the
// trigger proxy and GetLogs for SLS), counters of calls per operation, and
// the refusals above; in process through Options and methods, out of
// process through /_emulator/faults, /_emulator/calls and
// /_emulator/refusals.
package alibaba

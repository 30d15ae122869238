// Package azure is a local Azure Resource Manager for the Web Apps API
// (Microsoft.Web/sites, api-version 2024-04-01) that the real
// armappservice/v4 client drives: function apps are created by a long-running
// PUT that answers 202 with an Azure-AsyncOperation URL, polled until
// Succeeded or Failed, then read by a final GET, or, when the deployment is
// done within the request (ProvisionDelay 0), 200 with the site and a
// terminal provisioningState, as the RP answers a fast create; sites are listed per
// resource group by page (nextLink); application settings are listed (POST
// .../config/appsettings/list) and replaced whole (PUT .../config/appsettings);
// container logs are served at POST .../containerlogs, and every app's Kudu
// log stream at /_kudu/<app>/api/logstream (set the node's kuduEndpoint to
// <emulator>/_kudu/{app}). Errors are
// {"error":{"code","message"}} with ARM's status codes; requests need a bearer
// token and an api-version.
//
// Host keys (POST .../host/default/listkeys), ARM's Tags API at a site's
// scope (PATCH .../providers/Microsoft.Resources/tags/default) and each
// app's HTTP triggers at /_apps/<app>/api/<function> serve invocations.
//
// Emulated apps: the create operation takes ProvisionDelay; an image whose
// tag is "fail-create" makes it fail (code ImagePullFailure); a trigger
// checks the function key, echoes the body, or answers 500 with the app
// setting EMULATOR_FAIL; an app's log receives a line per deployment, setting
// change and execution (plus EMULATOR_LOG), and the lines tests append.
//
// App Service plans (Microsoft.Web/serverfarms) exist until deleted: every
// serverFarmId is a plan, so the node's configured plan needs no setup.
// Deleting a site deletes its plan when no other site is left on it, unless
// the DELETE says deleteEmptyServerFarm=false ("Specify false if you want
// to keep empty App Service plan. By default, empty App Service plan is
// deleted.": the Web Apps Delete API, armappservice
// WebAppsClientDeleteOptions, and
// https://learn.microsoft.com/javascript/api/@azure-rest/arm-appservice/webappsdeletequeryparamproperties);
// deleteMetrics is accepted and, the emulator keeping no metrics of a
// deleted app, changes nothing. A PUT of a site on a deleted plan answers
// the RP's 404 "Cannot find ServerFarm with name <plan>." (as for a refused
// plan, below); GET .../serverfarms/<plan> answers 404 ResourceNotFound, and
// a PUT of it creates it again.
//
// Functions hosts: an app's host has a host ID, its app setting
// AzureFunctionsWebHost__hostid (or AzureFunctionsWebHost:hostid, any case)
// or else the first 32 characters of the app's name, and keeps its state
// in the storage account of AzureWebJobsStorage. When two started hosts
// share a host ID and a storage account, the one that started last shuts
// down, as Functions v4 does ("In Functions v4 when this situation is
// detected an error will be logged, and the host will shut down (hard
// failure)": azure-functions-host wiki, Host IDs,
// https://github.com/Azure/azure-functions-host/wiki/Host-IDs; AZFD0004,
// https://learn.microsoft.com/azure/azure-functions/errors-diagnostics/diagnostic-events/azfd0004).
// Its log gets, once, "ERROR - A collision for Host ID '<id>' was detected
// in the configured storage account. For more information, see
// https://aka.ms/functions-hostid-collision." (the host's message,
// Azure/azure-functions-host#9223, #10650); the site stays Running, as App
// Service shows a site whose host failed; its listkeys and triggers answer
// as for a host that is down (below). A host starts Options.HostStartDelay
// after its container (after each deployment; a settings change restarts
// it), while the site already shows Running: "Running" is App Service's
// state of the site, not the host's (Azure/azure-cli#20892: listkeys fails
// right after az functionapp create). A host that does not answer, because
// it collided or has not started yet, makes listkeys answer the RP's 400
// {"Code":"BadRequest","Message":"Encountered an error (ServiceUnavailable)
// from host runtime.",...} (the shape and message of Azure/azure-cli#20892,
// which shows it for a just-created app, and
// Azure/azure-functions-host#6255) and its triggers 503 "Function host is
// not running.".
//
// Tags: a resource has at most 50 tags ("Each resource, resource group,
// and subscription can have a maximum of 50 tag name/value pairs": Tag
// resources, Limitations,
// https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations,
// and "Azure subscription and service limits", General limits). A site's
// PUT with more, or a Tags API write (Merge or Replace) that would leave
// more, answers 400 BadRequest and changes nothing; Azure documents the
// limit, not the answer's code and message, which are the emulator's.
//
// HTTP triggers: the front end answers a trigger call that has not been
// answered within Options.FrontEndTimeout (DefaultFrontEndTimeout, 230 s)
// with 502, while the host runs the function on and logs its whole
// duration ("Regardless of the function app timeout setting, 230 seconds
// is the maximum amount of time that an HTTP triggered function can take
// to respond to a request. This is because of the default idle timeout of
// Azure Load Balancer.": Azure Functions docs, Function app time-out
// duration, includes/functions-timeout-duration.md; "If a function that
// uses the HTTP trigger doesn't complete within 230 seconds, the Azure
// Load Balancer will time out and return an HTTP 502 error.": HTTP
// trigger, Limits). Callers report 500 as well
// (MicrosoftDocs/azure-docs#94418, #112130: "500 - The request timed
// out."); the emulator answers the documented 502, with a body of its own.
// A trigger call's {"sleepMs": N} runs N ms (Options.Sleep passes the time;
// without it the emulator sleeps, at most 30 s).
//
// Function timeout: a run longer than the app's functionTimeout (the app
// setting AzureFunctionsJobHost__functionTimeout, hh:mm:ss, which
// overrides host.json's; else 5 minutes on a Consumption plan, tier
// Dynamic, and 30 on the others: Function app time-out duration,
// includes/functions-timeout-duration.md) ends at it. The host logs
// "Timeout value of <hh:mm:ss> exceeded by function 'Functions.<fn>' (Id:
// '<id>'). Initiating cancellation.", "Executed 'Functions.<fn>' (Failed,
// ...)" and "A function timeout has occurred. Host is shutting down."
// (Azure/Azure-Functions#1639, Azure/azure-functions-host#5228), and
// restarts ("the behavior on timeout is to kill the host and restart",
// Azure/azure-functions-host#2243): its triggers answer 503 for
// HostStartDelay. The caller gets 500 with no body: the host's answer to an
// HTTP-triggered run that threw (FunctionTimeoutException), our reading;
// Azure documents no answer for it. A run whose end comes after the front
// end's timeout is the front end's 502 above.
//
// Out of memory: a worker killed for its memory is seen by its caller as
// any failed run (500, or the front end's 502); only the host's log names
// it ("WorkerProcessExitException : python exited with code 137",
// Azure/azure-functions-python-worker#853). The emulator does not model it.
//
// An emulator convenience, not a cloud behaviour: a trigger call whose body
// is {"env": true}, or whose query is ?env=1, answers the app's settings
// (the environment its container gets) as a JSON object, leaving out those
// the platform and the node hold (AzureWebJobsStorage and
// AzureWebJobsStorage__*, WEBSITE_CONTENT*, DOCKER_REGISTRY_SERVER_*,
// Application Insights' connection string and key,
// FUNCTIONS_EXTENSION_VERSION, WEBSITES_ENABLE_APP_SERVICE_STORAGE), so that
// no secret is echoed.
//
// The admin API (POST /admin/functions/<function> with the master key and
// {"input": ...}) runs non-HTTP-triggered functions ("Manually run a non
// HTTP-triggered function",
// https://learn.microsoft.com/azure/azure-functions/functions-manually-run-non-http,
// which answers "202 Accepted"). Every emulated function is
// HTTP-triggered: the admin API answers 202, and the run then fails, its
// log showing "Exception while executing function: Functions.<fn>.
// Microsoft.Azure.WebJobs.Host: Exception binding parameter 'req'. ..."
// and "Executed 'Functions.<fn>' (Failed, Id=<x-ms-client-request-id>,
// ...)" (the host's lines for an HTTP trigger run from the host APIs,
// Azure/azure-functions-host#3166).
//
// Metrics (GET .../providers/Microsoft.Insights/metrics, api-version
// 2021-05-01, PT1M): a plan has a SKU (a PUT of the plan may give one;
// otherwise Options.PlanSKU, default Consumption Y1, though Azure runs
// Linux containers only on Premium, Dedicated and Container Apps), returned by
// GET .../serverfarms/<plan>. A function app answers only the metrics
// its plan's tier offers, any other name 400 BadRequest "Failed to find
// metric configuration for provider: Microsoft.Web, resource Type: sites,
// metric: <name>, Valid metrics: ..." (Azure Monitor's message for a name
// the resource does not have; its exact text is not documented):
//   - CpuTime on none: "For WebApps only" (Supported metrics for
//     Microsoft.Web/sites, and
//     https://azure.github.io/azure-monitor-baseline-alerts/services/Web/sites/).
//   - FunctionExecutionCount and FunctionExecutionUnits on Consumption
//     (tier Dynamic) only: "This metric isn't currently supported for
//     Premium and Dedicated (App Service) plans running on Linux."
//     (Monitoring Azure Functions data reference,
//     articles/azure-functions/monitor-functions-reference.md); the units
//     are MB-milliseconds ("measured in MB-milliseconds. To convert to
//     GB-seconds, divide by 1024000") of memory "rounded up to the nearest
//     128-MB bucket" (Estimating consumption-based costs,
//     articles/azure-functions/functions-consumption-costs.md): an
//     execution's units are its duration in ms times its memory
//     (EMULATOR_MEMORY_MB) rounded up to 128 MB.
//   - MemoryWorkingSet on every plan ("For WebApps and FunctionApps").
//     A Container Apps environment's app offers it alone too.
//
// CPU Percentage is a plan metric ("The average CPU used across all
// instances of the plan", Monitor apps in Azure App Service,
// articles/app-service/web-sites-monitor.md), not served.
//
// Updates: a PUT of a running site keeps it Running (and its triggers
// answering with the previous version) until the update is deployed, as App
// Service swaps in the new container only once it started; UpdateApplication
// Settings restarts the app and leaves it Running.
//
// Refusals (see Refusals; SetRefusals, or /_emulator/refusals: PUT
// {"roles": [...], "images": [...], "quotaExceeded": true, "plans": [...]},
// GET, DELETE) are what the subscription cannot use yet; removing an entry
// makes the next call succeed. They are checked once a site's PUT is valid:
//   - A plan listed (the site's serverFarmId, any case): 404 in the Web Apps
//     RP's own shape, {"Code":"NotFound","Message":"Cannot find ServerFarm
//     with name <plan>.","Target":null,"Details":[...],"Innererror":null},
//     without x-ms-error-code, so azcore's ResponseError.ErrorCode is empty
//     (it reads only a lower-case "code"). The message is the RP's (e.g.
//     microsoft/vscode-azurefunctions#2255, Azure/azure-powershell#3779);
//     the shape is the RP's for all its validation errors
//     (Azure/azure-cli#1007).
//   - A role listed as a user-assigned identity the site names
//     (identity.userAssignedIdentities): 400 FailedIdentityOperation,
//     "Identity operation for resource '<site>' failed with error 'Failed to
//     perform resource identity operation. Status: 'NotFound'. Response:
//     '{"error":{"code":"NotFound",...}}'.'." in ARM's {"error":{...}} shape
//     (Azure/azure-libraries-for-net#690, Azure/azure-cli#31837).
//   - quotaExceeded: a PUT creating a site (not one updating a site) answers
//     409 in the RP's shape, Code "Conflict", "Cannot complete the operation
//     because the site will exceed the number of slots allowed for the
//     'Dynamic' SKU." (the RP's answer when a plan is full,
//     Azure/azure-functions-ux#1309; the limits are in "App Service limits",
//     https://learn.microsoft.com/azure/azure-resource-manager/management/azure-subscription-service-limits#app-service-limits).
//   - An image listed (linuxFxVersion without "DOCKER|"), or a role listed
//     as the registry user name the app settings carry
//     (DOCKER_REGISTRY_SERVER_USERNAME: the registry rejects its password):
//     as on Azure, the PUT succeeds and the pull fails afterwards. The site
//     shows state Stopped once deployed, and its docker log (containerlogs)
//     shows, after "INFO  - Pulling image: <image>", App Service's lines:
//     "ERROR - DockerApiException: Docker API responded with status
//     code=NotFound, response={"message":"manifest for <image> not found:
//     manifest unknown: ..."}" (or status code=InternalServerError with
//     "... unauthorized: authentication required, ..." for the
//     credential), "ERROR - Image pull failed: Verify docker image
//     configuration and credentials (if using private repository)" and
//     "INFO  - Stopping site <app> because it failed during startup."
//     (Azure/azure-functions-docker#836, Azure/acr#124,
//     microsoft/AzureTRE#924). On Azure the site's state may stay Running:
//     the emulator stops it so that a reader of the site sees the failure.
//     A later PUT pulls again.
package azure

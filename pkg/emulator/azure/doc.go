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
package azure

// Package azure is a local Azure Resource Manager for the Web Apps API
// (Microsoft.Web/sites, api-version 2024-04-01) that the real
// armappservice/v4 client drives: function apps are created by a long-running
// PUT that answers 202 with an Azure-AsyncOperation URL, polled until
// Succeeded or Failed, then read by a final GET; sites are listed per
// resource group by page (nextLink); application settings are listed (POST
// .../config/appsettings/list) and replaced whole (PUT .../config/appsettings);
// container logs are served at POST .../containerlogs, and every app's Kudu
// log stream at /_kudu/<app>/api/logstream (set the node's kuduEndpoint to
// <emulator>/_kudu/{app}). Errors are
// {"error":{"code","message"}} with ARM's status codes; requests need a bearer
// token and an api-version.
//
// Emulated apps: the create operation takes ProvisionDelay; an image whose
// tag is "fail-create" makes it fail (code ImagePullFailure); an app's log
// receives a line per setting change and the lines tests append.
package azure

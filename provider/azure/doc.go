// Package azure is the Azure Functions backend: a pod becomes a
// container-based function app (kind functionapp,linux,container) through the
// armappservice/v4 Web Apps client, on an App Service plan or an Azure
// Container Apps environment. SDK errors become errdefs at this edge.
package azure

// Package azure is the Azure Functions backend: a pod becomes a
// container-based function app (kind functionapp,linux,container) through the
// armappservice/v4 Web Apps client, on an App Service plan or an Azure
// Container Apps environment. SDK errors become errdefs at this edge; what
// ARM refuses a deployment for becomes provider.Refused with the reason the
// pod shows (refusal.go), and only siteFor's checks are spec errors.
package azure

// Package awsauth verifies AWS Signature Version 4 on requests the AWS
// emulators receive, by signing a copy of the request with the known secret
// (using the SDK's own signer) and comparing signatures.
package awsauth

// Package lambda is the AWS Lambda backend: pods become Lambda functions
// through aws-sdk-go-v2, and SDK errors become errdefs at this edge.
package lambda

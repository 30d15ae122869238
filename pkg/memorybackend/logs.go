package memorybackend

import (
	"context"
	"io"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Logs is not offered: the memory backend runs nothing.
func (b *Backend) Logs(context.Context, string, translate.LogOptions) (io.ReadCloser, error) {
	return nil, provider.NotSupportedf("logs: the memory backend runs nothing and has no logs")
}

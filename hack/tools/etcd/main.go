// Command etcd builds the etcd server used by the local control plane.
// go.etcd.io/etcd/server/v3 ships no main package of its own.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }

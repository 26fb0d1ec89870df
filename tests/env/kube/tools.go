//go:build tools

// Package kube pins the Kubernetes and etcd programs the operator's
// integration tests run (tests/env/20-kube.sh builds them from here).
package kube

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)

//go:build tools

// Package netpol pins the NetworkPolicy engine of the test node
// (sigs.k8s.io/kube-network-policies: nftables and nfqueue); 21-node.sh
// builds it from here and runs it as a pod with the host's network.
package netpol

import (
	_ "sigs.k8s.io/kube-network-policies/cmd"
)

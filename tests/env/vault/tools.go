//go:build tools

// Package vault pins the HashiCorp Vault server the secret tests run
// (tests/env/35-vault.sh builds it from here).  Vault's own go.mod replaces
// its api, sdk and auth modules by folders that the published module zip
// leaves out, and replace directives of a dependency are ignored: this
// module requires the published versions of those modules instead, and
// repeats the two replacements Vault makes for third-party modules.
package vault

import (
	_ "github.com/hashicorp/vault"
)

//go:build !linux

package compute

import "errors"

// amxPermit: only Linux's arch_prctl permission protocol is implemented.
func amxPermit() error { return errors.New("AMX tile permission is only requested on Linux") }

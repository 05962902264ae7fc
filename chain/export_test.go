package chain

import "time"

// SetClock replaces the chain's clock (future-block rule) in tests.
func SetClock(c *Chain, now func() time.Time) { c.now = now }

package store

import "testing"

// Definitions read by two transactions at once are kept once: the second
// uses the first's (with the products it added), and older ones never
// replace newer.
func TestDefinitionsCacheKeepsOneCopyAVersion(t *testing.T) {
	var c definitionsCache
	first, second := &definitions{version: 1}, &definitions{version: 1}
	if got := c.put(7, first); got != first {
		t.Fatal("the first definitions of version 1 are not the ones to use")
	}
	if got := c.put(7, second); got != first {
		t.Error("a second read of version 1 replaced the first")
	}
	old := &definitions{version: 0}
	if got := c.put(7, old); got != old || c.get(7) != first {
		t.Error("definitions of version 0 replaced those of version 1, or were not the ones to use")
	}
	newer := &definitions{version: 2}
	if got := c.put(7, newer); got != newer || c.get(7) != newer {
		t.Error("definitions of version 2 were not kept")
	}
	if c.get(8) != nil {
		t.Error("another merchant has definitions")
	}
}

package main

import (
	"runtime/debug"
)

// Garbage collector defaults for serve. The bot's live heap is small (a few MB: connections,
// pools, caches) and most of what it allocates dies within one update, so with Go's default
// GOGC=100 it collects every few MB of allocation: at a steady 1,000 updates/s that is several
// collections a second, each waking the background mark workers on idle CPUs, and the collector
// was the largest runtime cost in the CPU profile at that rate after the scheduler itself.
// GOGC=400 collects a quarter as often for a heap a few MB larger; the memory limit keeps a
// heap that does grow (a large broadcast being enqueued) from growing five-fold before a
// collection. Either environment variable, when set, wins, as it does for any Go program.
const (
	serveGCPercent   = 400
	serveMemoryLimit = 256 << 20
)

// tuneGC applies serve's GC defaults where the environment does not set its own.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
}

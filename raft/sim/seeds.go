// Seed sweeps: many independent runs, spread over the machine's cores.

package sim

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// RunSeeds calls run for seeds first … first+n-1, on GOMAXPROCS goroutines (each run builds
// its own cluster, so runs share nothing), and returns the errors in seed order. It returns
// when every run has.
func RunSeeds(first uint64, n int, run func(seed uint64) error) []error {
	var next atomic.Uint64
	next.Store(first)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				s := next.Add(1) - 1
				if s >= first+uint64(n) {
					return
				}
				errs[s-first] = run(s)
			}
		})
	}
	wg.Wait()
	return slices.DeleteFunc(errs, func(err error) bool { return err == nil })
}

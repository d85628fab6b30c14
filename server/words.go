// Wording helpers for what the commands print.
package main

import "strconv"

// count writes a number with its noun, singular for exactly 1: count(1, "step") is "1 step",
// count(2, "step") "2 steps".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

//go:build js && wasm

package main

import (
	"strings"
	"testing"
	"time"
)

// TestRetryLogBounded: a page whose server stays away for an hour, retrying every 4 s, says
// the loss and its first attempts one by one with their cause, then one line a minute with
// the attempts so far and the last cause; back, it says how long and how many attempts, and
// the next loss is said one by one again.
func TestRetryLogBounded(t *testing.T) {
	r := newRetryLog()
	t0 := time.Date(2026, 12, 2, 14, 2, 31, 0, time.UTC)
	var lines []string
	say := func(s string) {
		if s != "" {
			lines = append(lines, s)
		}
	}
	say(r.failed(t0, true, "code 1006", 150*time.Millisecond))
	now := t0
	for i := 1; now.Sub(t0) < time.Hour; i++ {
		now = t0.Add(time.Duration(i) * 4 * time.Second)
		say(r.failed(now, false, "code 1006", 4*time.Second))
	}
	if len(lines) > retryLogEach+61 || len(lines) < retryLogEach+59 {
		t.Fatalf("%d lines for an hour away (900 attempts); want the first %d and one a minute", len(lines), retryLogEach)
	}
	if lines[0] != "lost the server (code 1006); reconnecting in 150ms" || lines[1] != "cannot reach the server (code 1006); reconnecting in 4s" {
		t.Errorf("the first lines: %q", lines[:2])
	}
	if lines[retryLogEach-1] != "cannot reach the server (code 1006); reconnecting in 4s (from now on one line each 1m0s while the server stays away)" {
		t.Errorf("the last single line: %q", lines[retryLogEach-1])
	}
	if want := "still cannot reach the server: 19 failed attempts in 1m16s away, 15 since the last line; last: code 1006; next attempt in 4s"; lines[retryLogEach] != want {
		t.Errorf("the first summary: %q; want %q", lines[retryLogEach], want)
	}
	for _, s := range lines[retryLogEach+1:] {
		if !strings.HasPrefix(s, "still cannot reach the server: ") || !strings.Contains(s, ", 15 since the last line; last: code 1006;") {
			t.Errorf("a later summary: %q", s)
		}
	}
	if got := r.welcomed(now.Add(time.Second)); got != " after 1h0m1s away and 900 failed attempts" {
		t.Errorf("back: %q", got)
	}
	if got := r.welcomed(now.Add(2 * time.Second)); got != "" {
		t.Errorf("a welcome after no failure: %q", got)
	}
	if got := r.failed(now.Add(time.Minute), true, "code 1001", 100*time.Millisecond); got != "lost the server (code 1001); reconnecting in 100ms" {
		t.Errorf("the next loss: %q", got)
	}
}

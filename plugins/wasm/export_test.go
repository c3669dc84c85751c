package wasm

import "time"

// Instrument exposes instrument to tests.
func Instrument(b []byte) ([]byte, error) { return instrument(b) }

// DecodeRejections and DecodeScores expose the hand-written decoders to
// the fuzz tests.
func DecodeRejections(b []byte, n int) ([]Rejection, error) { return decodeRejections(b, n) }

func DecodeScores(b []byte, scores []int64) (bool, error) { return decodeScores(b, scores) }

// RoundDuration exposes how messages round durations.
func RoundDuration(d time.Duration) time.Duration { return roundDuration(d) }

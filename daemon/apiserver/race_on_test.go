//go:build race

package apiserver_test

// raceDetector reports whether the tests run under the race detector,
// which makes them 5 to 10 times slower.
const raceDetector = true

//go:build !race

package apiserver_test

// raceDetector: the tests run under the race detector, 5-10 times slower.
const raceDetector = false

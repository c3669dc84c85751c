package manifest

import "strings"

// closest returns the candidate nearest to s, or "" when none is near
// enough to be worth suggesting. Case, '_' and '-' do not count, and a
// swap of two neighbouring letters counts as one edit.
func closest(s string, candidates []string) string {
	if len(s) > 64 {
		return ""
	}
	ns := normalize(s)
	best, bestD := "", -1
	for _, c := range candidates {
		nc := normalize(c)
		if ns == nc {
			return c
		}
		d := editDistance(ns, nc)
		if d > allowedEdits(len(nc)) {
			continue
		}
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func allowedEdits(n int) int {
	switch {
	case n <= 4:
		return 1
	case n <= 10:
		return 2
	default:
		return 3
	}
}

func normalize(s string) string {
	s = strings.ToLower(s)
	s = strings.ReplaceAll(s, "_", "")
	return strings.ReplaceAll(s, "-", "")
}

// editDistance is the optimal string alignment distance between a and b
// (Levenshtein plus transpositions), on bytes.
func editDistance(a, b string) int {
	if a == b {
		return 0
	}
	// Three rows: two back, one back, current.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

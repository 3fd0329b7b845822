package api

import (
	"strconv"
	"strings"
)

// Count writes a number of things in words, with the noun in the plural
// when n is not 1: Count(1, "file") is "1 file", Count(3, "query") is
// "3 queries". Nouns are regular English nouns (or end in one: "kernel
// drop").
func Count[N ~int | ~int64 | ~uint64](n N, noun string) string {
	s := strconv.FormatInt(int64(n), 10) + " "
	if n == 1 {
		return s + noun
	}
	return s + plural(noun)
}

// plural returns the plural of a regular English noun.
func plural(noun string) string {
	switch {
	case strings.HasSuffix(noun, "y") && len(noun) > 1 && !strings.ContainsAny(noun[len(noun)-2:len(noun)-1], "aeiou"):
		return noun[:len(noun)-1] + "ies"
	case strings.HasSuffix(noun, "s"), strings.HasSuffix(noun, "x"), strings.HasSuffix(noun, "ch"), strings.HasSuffix(noun, "sh"):
		return noun + "es"
	}
	return noun + "s"
}

// Summary says what the policy holds: "2 files, 4 groups, 9 rules".
func (p PolicyInfo) Summary() string {
	return Count(len(p.Files), "file") + ", " + Count(p.Groups, "group") + ", " + Count(p.Rules, "rule")
}

package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Counter counts words safely from several goroutines.
type Counter struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewCounter returns an empty Counter.
func NewCounter() *Counter {
	return &Counter{counts: make(map[string]int)}
}

// Add counts every word of line.
func (c *Counter) Add(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, word := range strings.Fields(line) {
		c.counts[strings.ToLower(word)]++
	}
}

// Top returns the n most frequent words.
func (c *Counter) Top(n int) ([]string, error) {
	if n <= 0 {
		return nil, errors.New("n must be positive")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	words := make([]string, 0, len(c.counts))
	for word := range c.counts {
		words = append(words, word)
	}
	sort.Slice(words, func(i, j int) bool {
		if c.counts[words[i]] != c.counts[words[j]] {
			return c.counts[words[i]] > c.counts[words[j]]
		}
		return words[i] < words[j]
	})
	if len(words) > n {
		words = words[:n]
	}
	return words, nil
}

func main() {
	lines := []string{
		"the quick brown fox",
		"jumps over the lazy dog",
		"the dog sleeps",
	}
	counter := NewCounter()
	var wg sync.WaitGroup
	for _, line := range lines {
		wg.Add(1)
		go func(line string) {
			defer wg.Done()
			counter.Add(line)
		}(line)
	}
	wg.Wait()
	top, err := counter.Top(3)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for i, word := range top {
		fmt.Printf("%d. %s\n", i+1, word)
	}
}

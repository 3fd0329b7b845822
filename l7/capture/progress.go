package capture

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ProgressBar draws "name [=====>    ] 42% 12.3/29.4 MB" on one terminal
// line, redrawn at most every interval.
type ProgressBar struct {
	w        io.Writer
	name     string
	total    int64
	now      func() time.Time
	interval time.Duration
	last     time.Time
	drawn    bool
}

// NewProgressBar returns a bar for reading total bytes of name, drawing on
// w; now is the clock (time.Now outside tests).
func NewProgressBar(w io.Writer, name string, total int64, now func() time.Time) *ProgressBar {
	return &ProgressBar{w: w, name: name, total: total, now: now, interval: 200 * time.Millisecond}
}

// Update redraws the bar for read bytes, unless it was drawn very recently.
func (p *ProgressBar) Update(read int64) {
	t := p.now()
	if p.drawn && t.Sub(p.last) < p.interval && read < p.total {
		return
	}
	p.last, p.drawn = t, true
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(1, float64(read)/float64(p.total))
	}
	filled := int(frac * width)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	fmt.Fprintf(p.w, "\r%s [%s] %3.0f%% %.1f/%.1f MB", p.name, bar, frac*100, float64(read)/1e6, float64(p.total)/1e6)
}

// Done erases the bar.
func (p *ProgressBar) Done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

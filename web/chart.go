package web

import (
	"fmt"
	"html"
	"html/template"
	"sort"
	"strings"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// chart draws, as inline SVG, the quantity each channel was sent for a
// product over time (a step line per listing, from the publication log),
// failed pushes as red dots, and the events of the product's history as
// ticks along the time axis. It is drawn on the server: no chart library,
// no script. Every text in it is escaped.
type chart struct {
	W, H                     float64
	left, right, top, bottom float64
	from, to                 time.Time
	maxQ                     int
}

// Series is one listing's line, for the legend.
type Series struct {
	Label string
	Class string
	Last  int
}

// drawChart returns the SVG and its legend; empty when nothing was pushed.
func drawChart(sku string, log []store.PublicationEntry, events []allot.HistoryEntry, now time.Time) (template.HTML, []Series) {
	if len(log) == 0 {
		return "", nil
	}
	entries := append([]store.PublicationEntry(nil), log...)
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].At.Before(entries[j].At) })
	c := chart{W: 880, H: 300, left: 48, right: 16, top: 16, bottom: 52, from: entries[0].At, to: now}
	if !c.to.After(c.from) {
		c.to = c.from.Add(time.Minute)
	}
	// A little room before the first point, so that it is not on the axis.
	c.from = c.from.Add(-c.to.Sub(c.from) / 40)
	type key struct{ channel, listing string }
	var order []key
	byKey := map[key][]store.PublicationEntry{}
	perChannel := map[string]int{}
	for _, e := range entries {
		k := key{e.Channel, e.ExternalID}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
			perChannel[e.Channel]++
		}
		byKey[k] = append(byKey[k], e)
		c.maxQ = max(c.maxQ, e.Quantity)
	}
	c.maxQ = niceMax(c.maxQ)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">`, c.W, c.H)
	fmt.Fprintf(&b, `<title id="chart-title">Quantity sent to each channel for %s over time</title>`, html.EscapeString(sku))
	fmt.Fprintf(&b, `<desc id="chart-desc">%d publications from %s to %s; the table below lists them.</desc>`, len(entries),
		html.EscapeString(when(entries[0].At)), html.EscapeString(when(now)))
	// Grid and axes.
	for i := 0; i <= 4; i++ {
		q := c.maxQ * i / 4
		y := c.y(q)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, c.left, c.W-c.right, y, y)
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="end">%d</text>`, c.left-6, y+4, q)
	}
	span := c.to.Sub(c.from)
	layout := "15:04"
	if span > 20*time.Hour {
		layout = "Jan 2 15:04"
	}
	for i := 0; i <= 4; i++ {
		t := c.from.Add(span * time.Duration(i) / 4)
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, c.x(t), c.H-c.bottom+16,
			html.EscapeString(t.UTC().Format(layout)))
	}
	fmt.Fprintf(&b, `<line class="axisline" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`, c.left, c.W-c.right, c.y(0), c.y(0))
	// Events of the history, as ticks below the axis, each with its summary.
	band := c.H - c.bottom + 26
	for _, e := range events {
		if e.At.Before(c.from) || e.At.After(c.to) {
			continue
		}
		x := c.x(e.At)
		fmt.Fprintf(&b, `<g class="event"><title>%s — %s (%s)</title><line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`+
			`<circle cx="%.1f" cy="%.1f" r="4"/></g>`, html.EscapeString(when(e.At)), html.EscapeString(e.Summary),
			html.EscapeString(e.Actor), x, x, c.top, c.y(0), x, band)
	}
	fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%.1f" text-anchor="end">events</text>`, c.left-6, band+4)
	// One step line per listing.
	var legend []Series
	for i, k := range order {
		class := fmt.Sprintf("series-%d", i%6)
		label := k.channel
		if perChannel[k.channel] > 1 {
			label += " · " + k.listing
		}
		var path strings.Builder
		last := -1
		var fails strings.Builder
		for _, e := range byKey[k] {
			x := c.x(e.At)
			if e.Outcome == "error" {
				fmt.Fprintf(&fails, `<circle class="failed" cx="%.1f" cy="%.1f" r="4"><title>%s: pushing %d to %s failed: %s</title></circle>`,
					x, c.y(e.Quantity), html.EscapeString(when(e.At)), e.Quantity, html.EscapeString(label), html.EscapeString(e.Detail))
				continue
			}
			if last < 0 {
				fmt.Fprintf(&path, "M%.1f %.1f", x, c.y(e.Quantity))
			} else {
				fmt.Fprintf(&path, " H%.1f V%.1f", x, c.y(e.Quantity))
			}
			last = e.Quantity
		}
		if last >= 0 {
			fmt.Fprintf(&path, " H%.1f", c.x(c.to))
			fmt.Fprintf(&b, `<path class="line %s" d="%s"><title>%s</title></path>`, class, path.String(), html.EscapeString(label))
		}
		b.WriteString(fails.String())
		legend = append(legend, Series{Label: label, Class: class, Last: max(last, 0)})
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), legend
}

func (c chart) x(t time.Time) float64 {
	span := c.to.Sub(c.from)
	if span <= 0 {
		return c.left
	}
	f := float64(t.Sub(c.from)) / float64(span)
	return c.left + f*(c.W-c.left-c.right)
}

func (c chart) y(q int) float64 {
	return c.top + (1-float64(q)/float64(c.maxQ))*(c.H-c.top-c.bottom)
}

// niceMax rounds a chart's top up to a number whose quarters are round,
// never below 4.
func niceMax(q int) int {
	if q <= 4 {
		return 4
	}
	step := 1
	for step*10 < q {
		step *= 10
	}
	for _, m := range []int{1, 2, 4, 8} {
		if step*m >= q && step*m%4 == 0 {
			return step * m
		}
	}
	return (step*10 + 3) / 4 * 4
}

package web

import (
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/allot/allot"
)

// parsePages parses every page template with the layout: one template set
// per page, so that each defines its own "content".
func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/parts.html"))
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(files, n))
	}
	return pages
}

var funcs = template.FuncMap{
	"when":    when,
	"ago":     ago,
	"purpose": purposeWords,
	"rule":    ruleWords,
	"plural":  plural,
	"add":     func(a, b int) int { return a + b },
	"sub":     func(a, b int) int { return a - b },
	"errFor":  errFor,
	"fieldID": fieldID,
	"check":   checkWords,
	"path":    url.PathEscape,
	"describe": func(err error) string {
		if err == nil {
			return ""
		}
		return describe(err)
	},
}

func itoa(i int) string { return strconv.Itoa(i) }

// when shows a time to the minute, in UTC, the zone every form uses.
func when(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		// Non-breaking spaces keep a time on one line in narrow columns.
		return v.UTC().Format("2006-01-02\u00a015:04\u00a0UTC")
	case *time.Time:
		if v == nil {
			return "—"
		}
		return when(*v)
	}
	return ""
}

// ago says how long ago a time was, roughly.
func ago(t any) string {
	var v time.Time
	switch x := t.(type) {
	case time.Time:
		v = x
	case *time.Time:
		if x == nil {
			return "never"
		}
		v = *x
	}
	if v.IsZero() {
		return "never"
	}
	d := time.Since(v)
	switch {
	case d < 0:
		return "in " + roughly(-d)
	case d < 5*time.Second:
		return "just now"
	}
	return roughly(d) + "\u00a0ago"
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return short(int(d/time.Second), "second", "seconds")
	case d < time.Hour:
		return short(int(d/time.Minute), "minute", "minutes")
	case d < 48*time.Hour:
		return short(int(d/time.Hour), "hour", "hours")
	}
	return short(int(d/(24*time.Hour)), "day", "days")
}

// timeInput formats a time for a datetime-local input, in UTC.
func timeInput(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// short is plural with a non-breaking space, for table cells.
func short(n int, one, many string) string {
	return strings.Replace(plural(n, one, many), " ", "\u00a0", 1)
}

func purposeWords(p allot.Purpose) string {
	switch p {
	case allot.Reserve:
		return "Reserve"
	case allot.Presell:
		return "Presell"
	}
	return string(p)
}

func ruleWords(r allot.Rule) string {
	switch r {
	case allot.FollowAllocation:
		return "follow allocation"
	case allot.UseAvailable:
		return "use available"
	}
	return string(r)
}

// checkWords names the readiness checks as the spec does.
func checkWords(name string) string {
	switch name {
	case "connected":
		return "Channel connected"
	case "products_linked":
		return "Products linked"
	case "inventory_synchronised":
		return "Inventory synchronised"
	case "orders_synchronised":
		return "Orders synchronised"
	}
	return name
}

var indexed = regexp.MustCompile(`^([a-z_]+)\[(\d+)\](?:\.([a-z_]+))?$`)

// fieldLabel names a field of a request the way the form shows it.
func fieldLabel(field string) string {
	words := map[string]string{
		"name": "Name", "note": "Note", "priority": "Priority", "starts_at": "Starts at", "ends_at": "Ends at",
		"purpose": "Purpose", "channels": "Channels", "lines": "Lines", "skus": "SKUs", "all_skus": "Every SKU",
		"all_skus.quantity": "Quantity for every SKU", "inbound": "Inbound shipment", "channel": "Channel", "sku": "SKU",
		"external_id": "Listing", "warehouse": "Warehouse", "expected_at": "Expected on", "token": "API token",
		"file": "File", "quantity": "Quantity", "rule": "Rule",
	}
	if w, ok := words[field]; ok {
		return w
	}
	if m := indexed.FindStringSubmatch(field); m != nil {
		n, _ := strconv.Atoi(m[2])
		switch {
		case m[1] == "channels" && m[3] == "rule":
			return fmt.Sprintf("Rule, channel %d", n+1)
		case m[1] == "channels":
			return fmt.Sprintf("Channel %d", n+1)
		case m[1] == "skus":
			return fmt.Sprintf("SKU, line %d", n+1)
		case m[3] == "sku":
			return fmt.Sprintf("SKU, line %d", n+1)
		case m[3] == "quantity":
			return fmt.Sprintf("Quantity, line %d", n+1)
		case m[3] != "":
			return fmt.Sprintf("%s, line %d", strings.ReplaceAll(m[3], "_", " "), n+1)
		}
	}
	if rest, ok := strings.CutPrefix(field, "line "); ok { // a CSV file: "line 4.sku"
		if num, col, ok := strings.Cut(rest, "."); ok {
			return "Line " + num + ", column " + col
		}
		return "Line " + rest
	}
	return field
}

// fieldID turns a field name into a string fit for an element id.
func fieldID(field string) string {
	var b strings.Builder
	for _, r := range field {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	return b.String()
}

// errFor returns the message of err if it is about field, for showing it
// next to that field.
func errFor(err error, field string) string {
	var e *allot.Error
	if err == nil || !errors.As(err, &e) || e.Field != field {
		return ""
	}
	return e.Message
}

package engine

import (
	"fmt"
	"strings"

	"github.com/allot/allot"
)

// Term is one step in the computation of a published quantity.
//
// Kinds: "available" (A, the start of a pool or of a use_available
// reserve), "reserve" (a reserve of another channel, subtracted),
// "floor" (what was added back so the result is not negative),
// "allocation" (the channel's own allocation line) and "consumed" (what
// its orders took of it), "served_first" (a reserve of higher priority
// served before a use_available one), "cut" (what a use_available reserve
// could not get), "pool" (what a presell with use_available would see
// without it), "component" (a bundle's component: Value per bundle,
// Quantity whole bundles), "percent", "zero_at", "max" (channel rules:
// Value is the rule, Quantity the result), "unknown".
type Term struct {
	Kind       string `json:"kind"`
	Allocation int64  `json:"allocation,omitempty"`
	Name       string `json:"name,omitempty"`
	Purpose    string `json:"purpose,omitempty"`
	Rule       string `json:"rule,omitempty"`
	Value      int    `json:"value,omitempty"`
	Quantity   int    `json:"quantity"`
}

// Explanation is a published quantity with the terms of its computation.
type Explanation struct {
	Channel  string `json:"channel"`
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	// Text reads like "b2c 42 = available 100 − reserve "B2B" 30 − …".
	Text  string `json:"explanation"`
	Terms []Term `json:"terms"`
}

type explainer struct{ terms []Term }

func (ex *explainer) add(t Term) {
	if ex != nil {
		ex.terms = append(ex.terms, t)
	}
}

func (ex *explainer) allocation(a *Allocation, sku string) {
	if ex == nil {
		return
	}
	q, _ := a.Quantity(sku)
	ex.add(Term{Kind: "allocation", Allocation: a.ID, Name: a.Name, Purpose: string(a.Purpose), Quantity: q})
	if c := a.Consumed[sku]; c != 0 {
		ex.add(Term{Kind: "consumed", Allocation: a.ID, Quantity: -c})
	}
	if rem := a.Remaining(sku); rem < 0 {
		ex.add(Term{Kind: "floor", Quantity: -rem})
	}
}

func (ex *explainer) presellUseAvailable(a *Allocation, sku string, pool int) {
	if ex == nil {
		return
	}
	ex.allocation(a, sku)
	ex.add(Term{Kind: "pool", Quantity: pool})
}

// Explain computes Q(c, s) with its terms and a sentence for people.
func (st *State) Explain(channel, sku string) Explanation {
	ex := &explainer{}
	q := st.compute(channel, sku, ex)
	e := Explanation{Channel: channel, SKU: sku, Quantity: q, Terms: ex.terms}
	e.Text = st.sentence(channel, sku, q, ex.terms)
	return e
}

// sentence writes the terms as one line, e.g.
// `b2c 42 = available 100 − reserve "B2B" 30 − reserve "Manual" 28`.
func (st *State) sentence(channel, sku string, q int, terms []Term) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d =", channel, q)
	if len(terms) == 0 {
		return b.String() + " 0"
	}
	rule := ""
	if a := st.Covering(channel, sku); a != nil {
		rule = string(a.Channels[channel])
	}
	first := true
	for _, t := range terms {
		switch t.Kind {
		case "available":
			if first {
				fmt.Fprintf(&b, " available %d", t.Quantity)
			} else {
				fmt.Fprintf(&b, ", from available %d", t.Quantity)
			}
		case "reserve":
			fmt.Fprintf(&b, " − reserve %q %d", t.Name, -t.Quantity)
		case "floor":
			fmt.Fprintf(&b, " + %d (never below 0)", t.Quantity)
		case "allocation":
			fmt.Fprintf(&b, " %s %q %d", t.Purpose, t.Name, t.Quantity)
			if rule != "" {
				fmt.Fprintf(&b, " (%s)", rule)
			}
		case "consumed":
			fmt.Fprintf(&b, " − consumed %d", -t.Quantity)
		case "served_first":
			fmt.Fprintf(&b, " − reserve %q %d served first", t.Name, -t.Quantity)
		case "cut":
			fmt.Fprintf(&b, "; cut by %d for want of stock", -t.Quantity)
		case "pool":
			fmt.Fprintf(&b, ", or what the channel sees without it: %d; the larger", t.Quantity)
		case "component":
			sep := ","
			if first {
				sep = " smallest of"
			}
			fmt.Fprintf(&b, "%s %s/%d = %d", sep, t.Name, t.Value, t.Quantity)
		case "percent":
			fmt.Fprintf(&b, "; rule percent %d%% → %d", t.Value, t.Quantity)
		case "zero_at":
			fmt.Fprintf(&b, "; rule zero_at %d → %d", t.Value, t.Quantity)
		case "max":
			fmt.Fprintf(&b, "; rule max %d → %d", t.Value, t.Quantity)
		case "unknown":
			b.WriteString(" 0 (unknown channel or SKU)")
		}
		first = false
	}
	return b.String()
}

// RulesOf returns the rules that shape channel's quantity of sku: the pair's
// over the channel's. Bundles only have their pair's rules.
func (st *State) RulesOf(channel, sku string) allot.ChannelRules {
	s, c := st.SKUs[sku], st.Channels[channel]
	if s == nil || c == nil {
		return allot.ChannelRules{}
	}
	if len(s.Components) > 0 {
		return s.Rules[channel]
	}
	return s.Rules[channel].Over(c.Rules)
}

package shopifysim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OrderParams describe an order placed on the store.
type OrderParams struct {
	LineItems []OrderLine
	// FinancialStatus is Shopify's financial_status: "paid" (the default),
	// "pending", "authorized", "partially_paid", "voided", ...
	FinancialStatus string
	// PaymentTermsName, e.g. "Net 30" or "Due on receipt", gives the order
	// payment terms, as B2B orders have.
	PaymentTermsName string
	// Email defaults to a made-up customer address.
	Email string
}

// OrderLine is one line of an order: a variant gid and a quantity.
type OrderLine struct {
	VariantID string
	Quantity  int
}

// Order is an order on the store.
type Order struct {
	ID               int64
	GID              string
	Name             string
	FinancialStatus  string
	PaymentTermsName string
	CancelledAt      *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
	LineItems        []LineItem
}

// LineItem is one line of an Order.
type LineItem struct {
	ID              int64
	VariantID       string
	ProductID       string
	InventoryItemID string
	SKU             string
	Quantity        int
}

type orderRec struct {
	id              int64
	number          int
	email           string
	financialStatus string
	paymentTerms    string
	createdAt       time.Time
	updatedAt       time.Time
	cancelledAt     *time.Time
	cancelReason    string
	lines           []*lineRec
}

type lineRec struct {
	id       int64
	variant  *variantRec
	quantity int
	current  int
}

var financialStatuses = map[string]bool{
	"pending": true, "authorized": true, "partially_paid": true, "paid": true,
	"partially_refunded": true, "refunded": true, "voided": true, "expired": true,
}

// PlaceOrder creates an order the way a checkout does: each line lowers the
// variant's available quantity (which may go below zero, as an oversell
// does on Shopify) and commits it; then orders/create is delivered, and
// orders/paid too when the order is paid.
func (s *Store) PlaceOrder(p OrderParams) (Order, error) {
	if len(p.LineItems) == 0 {
		return Order{}, errors.New("shopifysim: an order needs at least one line")
	}
	if p.FinancialStatus == "" {
		p.FinancialStatus = "paid"
	}
	if !financialStatuses[p.FinancialStatus] {
		return Order{}, fmt.Errorf("shopifysim: unknown financial status %q", p.FinancialStatus)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var lines []*lineRec
	for i, l := range p.LineItems {
		v, ok := s.byGID[l.VariantID].(*variantRec)
		if !ok {
			return Order{}, fmt.Errorf("shopifysim: line %d: unknown variant %q", i+1, l.VariantID)
		}
		if l.Quantity <= 0 {
			return Order{}, fmt.Errorf("shopifysim: line %d: quantity must be positive", i+1)
		}
		lines = append(lines, &lineRec{variant: v, quantity: l.Quantity, current: l.Quantity})
	}
	now := s.clock()
	if s.orderNum == 0 {
		s.orderNum = 1000
	}
	s.orderNum++
	o := &orderRec{
		id: s.nextID(), number: s.orderNum, email: p.Email, financialStatus: p.FinancialStatus,
		paymentTerms: p.PaymentTermsName, createdAt: now, updatedAt: now, lines: lines,
	}
	if o.email == "" {
		o.email = fmt.Sprintf("customer%d@example.com", o.number)
	}
	for _, l := range lines {
		l.id = s.nextID()
		l.variant.item.available -= l.quantity
		l.variant.item.committed += l.quantity
		l.variant.item.updatedAt = now
	}
	s.orders[o.id] = o
	s.orderSeq = append(s.orderSeq, o.id)
	topics := []string{"orders/create"}
	if o.financialStatus == "paid" {
		topics = append(topics, "orders/paid")
	}
	s.trigger(o, now, topics...)
	return o.public(), nil
}

// MarkPaid marks an order paid and delivers orders/paid and
// orders/updated.
func (s *Store) MarkPaid(orderID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderID]
	if !ok {
		return fmt.Errorf("shopifysim: unknown order %d", orderID)
	}
	if o.financialStatus == "paid" {
		return fmt.Errorf("shopifysim: order %d is already paid", orderID)
	}
	now := s.clock()
	o.financialStatus = "paid"
	o.updatedAt = now
	s.trigger(o, now, "orders/paid", "orders/updated")
	return nil
}

// CancelOrder cancels an order and restocks its lines, as cancelling with
// "restock" does in the Shopify admin, then delivers orders/cancelled and
// orders/updated.
func (s *Store) CancelOrder(orderID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderID]
	if !ok {
		return fmt.Errorf("shopifysim: unknown order %d", orderID)
	}
	if o.cancelledAt != nil {
		return fmt.Errorf("shopifysim: order %d is already cancelled", orderID)
	}
	now := s.clock()
	o.cancelledAt = &now
	o.cancelReason = "customer"
	o.updatedAt = now
	for _, l := range o.lines {
		l.variant.item.available += l.current
		l.variant.item.committed -= l.current
		l.variant.item.updatedAt = now
		l.current = 0
	}
	s.trigger(o, now, "orders/cancelled", "orders/updated")
	return nil
}

// Orders returns every order, oldest first.
func (s *Store) Orders() []Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Order, 0, len(s.orderSeq))
	for _, id := range s.orderSeq {
		out = append(out, s.orders[id].public())
	}
	return out
}

func (o *orderRec) name() string { return "#" + strconv.Itoa(o.number) }

func (o *orderRec) public() Order {
	out := Order{
		ID: o.id, GID: gid("Order", o.id), Name: o.name(), FinancialStatus: o.financialStatus,
		PaymentTermsName: o.paymentTerms, CreatedAt: o.createdAt, UpdatedAt: o.updatedAt,
	}
	if o.cancelledAt != nil {
		t := *o.cancelledAt
		out.CancelledAt = &t
	}
	for _, l := range o.lines {
		out.LineItems = append(out.LineItems, LineItem{
			ID: l.id, VariantID: l.variant.gid(), ProductID: l.variant.product.gid(),
			InventoryItemID: l.variant.item.gid(), SKU: l.variant.sku, Quantity: l.quantity,
		})
	}
	return out
}

// restTime is the timestamp format of Shopify's webhook payloads.
func restTime(t time.Time) string { return t.Format("2006-01-02T15:04:05-07:00") }

func restTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := restTime(*t)
	return &s
}

// money formats cents as Shopify's decimal strings.
func money(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

func cents(price string) int64 {
	whole, frac, _ := strings.Cut(price, ".")
	w, _ := strconv.ParseInt(whole, 10, 64)
	frac = (frac + "00")[:2]
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*100 + f
}

type moneySet struct {
	ShopMoney        amount `json:"shop_money"`
	PresentmentMoney amount `json:"presentment_money"`
}

type amount struct {
	Amount       string `json:"amount"`
	CurrencyCode string `json:"currency_code"`
}

func usd(c int64) moneySet {
	a := amount{Amount: money(c), CurrencyCode: "USD"}
	return moneySet{ShopMoney: a, PresentmentMoney: a}
}

// orderPayload is the order JSON of Shopify's orders/* webhooks, with the
// documented field names; fields the simulator has no data for carry the
// values Shopify sends when they are empty.
type orderPayload struct {
	ID                    int64             `json:"id"`
	AdminGraphQLAPIID     string            `json:"admin_graphql_api_id"`
	AppID                 *int64            `json:"app_id"`
	BrowserIP             *string           `json:"browser_ip"`
	BuyerAcceptsMarketing bool              `json:"buyer_accepts_marketing"`
	CancelReason          *string           `json:"cancel_reason"`
	CancelledAt           *string           `json:"cancelled_at"`
	ClosedAt              *string           `json:"closed_at"`
	ConfirmationNumber    string            `json:"confirmation_number"`
	Confirmed             bool              `json:"confirmed"`
	ContactEmail          string            `json:"contact_email"`
	CreatedAt             string            `json:"created_at"`
	Currency              string            `json:"currency"`
	CurrentSubtotalPrice  string            `json:"current_subtotal_price"`
	CurrentTotalPrice     string            `json:"current_total_price"`
	CurrentTotalPriceSet  moneySet          `json:"current_total_price_set"`
	Email                 string            `json:"email"`
	FinancialStatus       string            `json:"financial_status"`
	FulfillmentStatus     *string           `json:"fulfillment_status"`
	Name                  string            `json:"name"`
	Note                  *string           `json:"note"`
	Number                int               `json:"number"`
	OrderNumber           int               `json:"order_number"`
	PaymentGatewayNames   []string          `json:"payment_gateway_names"`
	PresentmentCurrency   string            `json:"presentment_currency"`
	ProcessedAt           string            `json:"processed_at"`
	SourceName            string            `json:"source_name"`
	SubtotalPrice         string            `json:"subtotal_price"`
	Tags                  string            `json:"tags"`
	Test                  bool              `json:"test"`
	TotalDiscounts        string            `json:"total_discounts"`
	TotalLineItemsPrice   string            `json:"total_line_items_price"`
	TotalPrice            string            `json:"total_price"`
	TotalPriceSet         moneySet          `json:"total_price_set"`
	TotalTax              string            `json:"total_tax"`
	UpdatedAt             string            `json:"updated_at"`
	LineItems             []lineItemPayload `json:"line_items"`
	PaymentTerms          *paymentTerms     `json:"payment_terms"`
	Refunds               []any             `json:"refunds"`
	Fulfillments          []any             `json:"fulfillments"`
	ShippingLines         []any             `json:"shipping_lines"`
}

type lineItemPayload struct {
	ID                         int64    `json:"id"`
	AdminGraphQLAPIID          string   `json:"admin_graphql_api_id"`
	CurrentQuantity            int      `json:"current_quantity"`
	FulfillableQuantity        int      `json:"fulfillable_quantity"`
	FulfillmentService         string   `json:"fulfillment_service"`
	FulfillmentStatus          *string  `json:"fulfillment_status"`
	GiftCard                   bool     `json:"gift_card"`
	Grams                      int      `json:"grams"`
	Name                       string   `json:"name"`
	Price                      string   `json:"price"`
	PriceSet                   moneySet `json:"price_set"`
	ProductExists              bool     `json:"product_exists"`
	ProductID                  int64    `json:"product_id"`
	Properties                 []any    `json:"properties"`
	Quantity                   int      `json:"quantity"`
	RequiresShipping           bool     `json:"requires_shipping"`
	SKU                        string   `json:"sku"`
	Taxable                    bool     `json:"taxable"`
	Title                      string   `json:"title"`
	TotalDiscount              string   `json:"total_discount"`
	VariantID                  int64    `json:"variant_id"`
	VariantInventoryManagement string   `json:"variant_inventory_management"`
	VariantTitle               string   `json:"variant_title"`
	Vendor                     string   `json:"vendor"`
}

type paymentTerms struct {
	ID               int64             `json:"id"`
	CreatedAt        string            `json:"created_at"`
	DueInDays        *int              `json:"due_in_days"`
	PaymentSchedules []paymentSchedule `json:"payment_schedules"`
	PaymentTermsName string            `json:"payment_terms_name"`
	PaymentTermsType string            `json:"payment_terms_type"`
	UpdatedAt        string            `json:"updated_at"`
}

type paymentSchedule struct {
	ID          int64   `json:"id"`
	Amount      string  `json:"amount"`
	Currency    string  `json:"currency"`
	IssuedAt    string  `json:"issued_at"`
	DueAt       *string `json:"due_at"`
	CompletedAt *string `json:"completed_at"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

// payload renders the order as Shopify's webhook body.
func (s *Store) payload(o *orderRec) []byte {
	var subtotal int64
	p := orderPayload{
		ID: o.id, AdminGraphQLAPIID: gid("Order", o.id), BuyerAcceptsMarketing: false,
		CancelledAt: restTimePtr(o.cancelledAt), ConfirmationNumber: fmt.Sprintf("SIM%06d", o.number),
		Confirmed: true, ContactEmail: o.email, CreatedAt: restTime(o.createdAt), Currency: "USD",
		Email: o.email, FinancialStatus: o.financialStatus, Name: o.name(), Number: o.number - 1000,
		OrderNumber: o.number, PaymentGatewayNames: []string{"manual"}, PresentmentCurrency: "USD",
		ProcessedAt: restTime(o.createdAt), SourceName: "web", Tags: "", TotalDiscounts: "0.00",
		TotalTax: "0.00", UpdatedAt: restTime(o.updatedAt),
		Refunds: []any{}, Fulfillments: []any{}, ShippingLines: []any{},
	}
	if o.cancelReason != "" {
		r := o.cancelReason
		p.CancelReason = &r
	}
	var current int64
	for _, l := range o.lines {
		price := cents(l.variant.price)
		subtotal += price * int64(l.quantity)
		current += price * int64(l.current)
		p.LineItems = append(p.LineItems, lineItemPayload{
			ID: l.id, AdminGraphQLAPIID: gid("LineItem", l.id), CurrentQuantity: l.current,
			FulfillableQuantity: l.current, FulfillmentService: "manual", Name: l.variant.product.title + " - " + l.variant.title,
			Price: l.variant.price, PriceSet: usd(price), ProductExists: true, ProductID: l.variant.product.id,
			Properties: []any{}, Quantity: l.quantity, RequiresShipping: true, SKU: l.variant.sku, Taxable: true,
			Title: l.variant.product.title, TotalDiscount: "0.00", VariantID: l.variant.id,
			VariantInventoryManagement: "shopify", VariantTitle: l.variant.title, Vendor: s.shopName(),
		})
	}
	p.SubtotalPrice, p.TotalLineItemsPrice, p.TotalPrice = money(subtotal), money(subtotal), money(subtotal)
	p.TotalPriceSet = usd(subtotal)
	p.CurrentSubtotalPrice, p.CurrentTotalPrice = money(current), money(current)
	p.CurrentTotalPriceSet = usd(current)
	if o.paymentTerms != "" {
		p.PaymentTerms = s.terms(o, subtotal)
	}
	b, _ := json.Marshal(p)
	return b
}

// terms builds payment_terms from a template name: "Net N" is due N days
// after the order, "Due on receipt" and "Due on fulfillment" have no days.
func (s *Store) terms(o *orderRec, total int64) *paymentTerms {
	t := &paymentTerms{
		ID: o.id + 1, CreatedAt: restTime(o.createdAt), UpdatedAt: restTime(o.updatedAt),
		PaymentTermsName: o.paymentTerms, PaymentTermsType: "net",
	}
	sched := paymentSchedule{
		ID: o.id + 2, Amount: money(total), Currency: "USD", IssuedAt: restTime(o.createdAt),
		CreatedAt: restTime(o.createdAt), UpdatedAt: restTime(o.updatedAt),
	}
	lower := strings.ToLower(o.paymentTerms)
	switch {
	case strings.HasPrefix(lower, "net "):
		if n, err := strconv.Atoi(strings.TrimSpace(lower[4:])); err == nil {
			t.DueInDays = &n
			due := restTime(o.createdAt.AddDate(0, 0, n))
			sched.DueAt = &due
		}
	case strings.Contains(lower, "receipt"):
		t.PaymentTermsType = "receipt"
	case strings.Contains(lower, "fulfillment"):
		t.PaymentTermsType = "fulfillment"
	default:
		t.PaymentTermsType = "fixed"
	}
	if o.financialStatus == "paid" {
		done := restTime(o.updatedAt)
		sched.CompletedAt = &done
	}
	t.PaymentSchedules = []paymentSchedule{sched}
	return t
}

package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/allot/allot"
)

// Mark is an outbox entry: a product whose quantities may have changed
// (Product 0: every product), marked Version times since Since.
type Mark struct {
	Product int64
	Version int64
	Since   time.Time
}

// MarkedMerchants lists the merchants with outbox marks.
func (db *DB) MarkedMerchants(ctx context.Context) ([]int64, error) {
	return scanIDs(db.read.QueryContext(ctx, `SELECT DISTINCT merchant_id FROM sync_dirty`))
}

// Marks reads up to limit outbox marks of the merchant, oldest first.
func (tx *Tx) Marks(limit int) ([]Mark, error) {
	rows, err := tx.query(`SELECT product_id, version, since FROM sync_dirty WHERE merchant_id = $1 ORDER BY since, product_id LIMIT `+itoa(limit), tx.M)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Mark
	for rows.Next() {
		var m Mark
		var since int64
		if err := rows.Scan(&m.Product, &m.Version, &since); err != nil {
			return nil, err
		}
		m.Since = fromMicros(since)
		out = append(out, m)
	}
	return out, rows.Err()
}

// ClearMarks removes the marks read, but not one marked again since: that
// one waits for the next plan.
func (tx *Tx) ClearMarks(marks []Mark) error {
	for part := range slices.Chunk(marks, chunk) {
		products, versions := pairs(part, func(m Mark) (int64, int64) { return m.Product, m.Version })
		c, err := tx.conn()
		if err != nil {
			return err
		}
		if err := tx.d.clearMarks(tx.ctx, c, tx.M, products, versions); err != nil {
			return err
		}
	}
	return nil
}

// pairs splits xs into two lists, f giving each element's two values.
func pairs[T any](xs []T, f func(T) (int64, int64)) (a, b []int64) {
	a, b = make([]int64, len(xs)), make([]int64, len(xs))
	for i, x := range xs {
		a[i], b[i] = f(x)
	}
	return a, b
}

// MarkAll marks every product of the merchant: a full resync.
func (tx *Tx) MarkAll() { tx.TouchAll() }

// PushListing is a linked, enabled listing on a channel that allot pushes
// to, with what was last published and what is waiting to be.
type PushListing struct {
	ListingID  int64
	ChannelID  int64
	ProductID  int64
	Channel    string
	ExternalID string
	PushRef    string
	SKU        string
	// Published is the last quantity pushed (nil: never), Confirmed whether
	// the channel confirmed it.
	Published *int
	Confirmed bool
	// Pending is the quantity waiting to be pushed (nil: none).
	Pending *int
}

// pushedPlatforms are the platforms allot pushes quantities to;
// pushPlatforms is the same list as SQL, for "platform IN …".
var (
	pushedPlatforms = []allot.Platform{allot.Shopify, allot.Generic, allot.File}
	pushPlatforms   = func() string {
		quoted := make([]string, len(pushedPlatforms))
		for i, p := range pushedPlatforms {
			quoted[i] = "'" + string(p) + "'"
		}
		return "(" + strings.Join(quoted, ", ") + ")"
	}()
)

// PushListings lists the linked, enabled listings, on channels that allot
// pushes to, of the given products and of the bundles that contain them
// (nil: of every product; a plan of every listing reads PlanListings).
func (tx *Tx) PushListings(productIDs []int64) ([]PushListing, error) {
	if productIDs == nil {
		return tx.PushListingsOf(nil)
	}
	scope, err := tx.WithBundles(productIDs)
	if err != nil {
		return nil, err
	}
	return tx.PushListingsOf(scope)
}

// PushListingsOf is PushListings of exactly the products and bundles of
// scope (nil: every product), as WithBundles gives them.
func (tx *Tx) PushListingsOf(scope []int64) ([]PushListing, error) {
	q := `SELECT l.id, l.channel_id, l.product_id, c.code, l.external_id, l.push_ref, p.sku, ` + publishedAndPending + `
		FROM listings l JOIN channels c ON c.id = l.channel_id JOIN products p ON p.id = l.product_id
		LEFT JOIN sync_pending pen ON pen.listing_id = l.id
		WHERE l.merchant_id = $1 AND l.enabled = TRUE AND c.platform IN ` + pushPlatforms
	var out []PushListing
	scan := func(q string, args ...any) error {
		rows, err := tx.query(q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l PushListing
			var pub, pen sql.NullInt64
			if err := rows.Scan(&l.ListingID, &l.ChannelID, &l.ProductID, &l.Channel, &l.ExternalID, &l.PushRef, &l.SKU, &pub, &l.Confirmed, &pen); err != nil {
				return err
			}
			l.Published, l.Pending = intPtr(pub), intPtr(pen)
			out = append(out, l)
		}
		return rows.Err()
	}
	if scope == nil {
		// Every listing: hash joins (see PlanListings).
		return out, tx.without(nestedLoops, func() error { return scan(q+` ORDER BY l.id`, tx.M) })
	}
	for _, part := range chunks(scope) {
		in, args := inList(tx.d, 2, part)
		if err := scan(q+` AND l.product_id `+in+` ORDER BY l.id`, append([]any{tx.M}, args...)...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// publishedAndPending reads, from a listing's pending row pen (if any),
// its last publication, whether it has one, and the quantity waiting to
// be pushed, if one waits.
const publishedAndPending = `pen.published, pen.published IS NOT NULL, CASE WHEN pen.done THEN NULL ELSE pen.quantity END`

// PlanListings is PushListingsOf(scope) for a plan of their quantities
// (nil: every product's): without the texts only a push needs (external
// id, push ref), with the channel's code from a map rather than a join,
// and with no SKU, which the caller sets from its snapshot (see
// Snapshot.Name). After a full stock report it reads 200,000 listings;
// the texts and joins made it the longest step of the plan.
func (tx *Tx) PlanListings(scope []int64) ([]PushListing, error) {
	chs, err := tx.PushChannels()
	if err != nil {
		return nil, err
	}
	code := make(map[int64]string, len(chs))
	for _, c := range chs {
		code[c.ID] = c.Code
	}
	q := `SELECT l.id, l.channel_id, l.product_id, ` + publishedAndPending + `
		FROM listings l LEFT JOIN sync_pending pen ON pen.listing_id = l.id
		WHERE l.merchant_id = $1 AND l.enabled = TRUE AND l.product_id `
	var out []PushListing
	read := func(q string, args ...any) error {
		rows, err := tx.query(q, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var l PushListing
			var pub, pen sql.NullInt64
			if err := rows.Scan(&l.ListingID, &l.ChannelID, &l.ProductID, &pub, &l.Confirmed, &pen); err != nil {
				rows.Close()
				return err
			}
			c, ok := code[l.ChannelID]
			if !ok {
				continue // a channel allot pushes nothing to
			}
			l.Channel, l.Published, l.Pending = c, intPtr(pub), intPtr(pen)
			out = append(out, l)
		}
		return closeRows(rows)
	}
	if scope == nil {
		// Hash joins: a merchant's few channels and the statistics of the
		// queue tables, which fill and empty by the minute, made
		// PostgreSQL probe the pending pushes by index
		// once a listing, 200,000 times.
		return out, tx.without(nestedLoops, func() error { return read(q+`IS NOT NULL ORDER BY l.id`, tx.M) })
	}
	for _, part := range chunks(scope) {
		in, args := inList(tx.d, 2, part)
		if err := read(q+in+` ORDER BY l.id`, append([]any{tx.M}, args...)...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Name sets the SKU of each listing from its product's id; a product the
// snapshot does not hold (created since) leaves it empty, and Holding
// then leaves the listing to the product's own marks.
func (s *Snapshot) Name(listings []PushListing) {
	for i := range listings {
		listings[i].SKU = s.SKUOf[listings[i].ProductID]
	}
}

// SetPending records the newest quantity to push for a listing, due at due
// or sooner if a push was already due sooner (so that a stream of changes
// never puts a push off for ever); first is when the change it carries was
// made (kept if an older one is waiting).
func (tx *Tx) SetPending(l PushListing, quantity int, due, first time.Time) error {
	return tx.SetPendingMany([]PendingSet{{Listing: l, Quantity: quantity, Due: due}}, first)
}

// ChannelDue is a channel with pushes due.
type ChannelDue struct {
	Merchant, Channel int64
}

// DueChannels lists the channels with pushes due at now, whose lease is
// free or held by owner.
func (db *DB) DueChannels(ctx context.Context, now time.Time, owner string) ([]ChannelDue, error) {
	// A probe of the due index a channel, not a scan of every row due:
	// after a full stock report, 200,000 are.
	rows, err := db.read.QueryContext(ctx, `SELECT c.merchant_id, c.id FROM channels c
		LEFT JOIN sync_channels s ON s.channel_id = c.id
		WHERE (s.lease_until IS NULL OR s.lease_until < $1 OR s.lease_owner = $2)
		AND EXISTS (SELECT 1 FROM sync_pending p WHERE p.channel_id = c.id AND NOT p.done AND p.due_at <= $1)`, micros(now), owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ChannelDue
	for rows.Next() {
		var c ChannelDue
		if err := rows.Scan(&c.Merchant, &c.Channel); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// AcquireLease makes owner the one pusher of a channel until until, if the
// lease is free, expired or already owner's.
func (tx *Tx) AcquireLease(channelID int64, owner string, until time.Time) (bool, error) {
	now := micros(tx.Now)
	if _, err := tx.exec(`INSERT INTO sync_channels (channel_id, merchant_id) VALUES ($1, $2) ON CONFLICT (channel_id) DO NOTHING`,
		channelID, tx.M); err != nil {
		return false, err
	}
	res, err := tx.exec(`UPDATE sync_channels SET lease_owner = $1, lease_until = $2
		WHERE channel_id = $3 AND merchant_id = $4 AND (lease_until < $5 OR lease_owner = $1)`, owner, micros(until), channelID, tx.M, now)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseLeases gives up every channel lease of owner, of any merchant:
// a worker that stops lets the next one push at once, rather than after
// its leases run out.
func (db *DB) ReleaseLeases(ctx context.Context, owner string) error {
	release, err := db.takeTurn(ctx, db.write)
	if err != nil {
		return err
	}
	defer release()
	_, err = db.write.ExecContext(ctx, `UPDATE sync_channels SET lease_until = 0 WHERE lease_owner = $1`, owner)
	return err
}

// ReleaseLease gives a channel's lease up.
func (tx *Tx) ReleaseLease(channelID int64, owner string) error {
	_, err := tx.exec(`UPDATE sync_channels SET lease_until = 0 WHERE channel_id = $1 AND lease_owner = $2`, channelID, owner)
	return err
}

// Push is a quantity due for a listing.
type Push struct {
	PushListing
	Quantity int
	Version  int64
	FirstAt  time.Time
	Attempts int
}

// DuePushes reads up to limit pushes of a channel due at tx.Now, oldest
// change first.
func (tx *Tx) DuePushes(channelID int64, limit int) ([]Push, error) {
	// The pushes are chosen first, then joined: the joins are for those
	// few rows whatever the planner believes of the queue's size. They
	// are taken in the order they fell due, the order of the due index,
	// so that a batch is its first rows: ordered otherwise, each batch
	// sorted every row due (200,000 after a full stock report: 40 ms a
	// batch on PostgreSQL). PostgreSQL walks the index in that order
	// only with bitmap scans off: its estimate of a few rows due made it
	// gather every entry of the index into a bitmap, then sort, and the
	// entries of rows pushed since (each push writes a new version of
	// its row; vacuum drops the old ones later) are many: 110,000 after a
	// full stock report, 11 ms a batch. An index scan marks those it met
	// dead, and the next one skips them.
	var out []Push
	read := func() error {
		rows, err := tx.query(`SELECT pen.listing_id, l.external_id, l.push_ref, COALESCE(p.sku, ''), pen.quantity, pen.version, pen.first_at,
		pen.attempts, pen.published, pen.published IS NOT NULL
		FROM (SELECT listing_id, quantity, version, first_at, attempts, due_at, published FROM sync_pending
			WHERE channel_id = $1 AND merchant_id = $2 AND NOT done AND due_at <= $3 ORDER BY due_at LIMIT `+itoa(limit)+`) pen
		JOIN listings l ON l.id = pen.listing_id LEFT JOIN products p ON p.id = l.product_id
		ORDER BY pen.due_at, pen.listing_id`,
			channelID, tx.M, micros(tx.Now))
		if err != nil {
			return err
		}
		for rows.Next() {
			var p Push
			var first int64
			var pub sql.NullInt64
			if err := rows.Scan(&p.ListingID, &p.ExternalID, &p.PushRef, &p.SKU, &p.Quantity, &p.Version, &first, &p.Attempts, &pub, &p.Confirmed); err != nil {
				rows.Close()
				return err
			}
			p.ChannelID, p.FirstAt, p.Published = channelID, fromMicros(first), intPtr(pub)
			out = append(out, p)
		}
		return closeRows(rows)
	}
	return out, tx.without(bitmapScans, read)
}

// Confirm records that the channel shows quantity for a listing, and
// forgets the pending push if no newer value arrived since version.
func (tx *Tx) Confirm(p Push, quantity int, outcome, detail string) error {
	p.Quantity = quantity
	return tx.confirm([]Push{p}, outcome, detail)
}

// Retry puts a push off until due, counting the attempt and its error.
func (tx *Tx) Retry(p Push, due time.Time, msg string) error {
	_, err := tx.exec(`UPDATE sync_pending SET attempts = attempts + 1, due_at = $1, last_error = $2 WHERE listing_id = $3 AND NOT done`,
		micros(due), msg, p.ListingID)
	if err != nil {
		return err
	}
	_, err = tx.exec(`INSERT INTO publication_log (merchant_id, channel_id, listing_id, quantity, at, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, 'error', $6)`, tx.M, p.ChannelID, p.ListingID, p.Quantity, micros(tx.Now), msg)
	return err
}

// ChannelCalled records the outcome of a call to a channel: msg empty for
// a success.
func (tx *Tx) ChannelCalled(channelID int64, msg string) error {
	now := micros(tx.Now)
	if _, err := tx.exec(`INSERT INTO sync_channels (channel_id, merchant_id) VALUES ($1, $2) ON CONFLICT (channel_id) DO NOTHING`,
		channelID, tx.M); err != nil {
		return err
	}
	if msg == "" {
		_, err := tx.exec(`UPDATE sync_channels SET last_success_at = $1 WHERE channel_id = $2`, now, channelID)
		return err
	}
	_, err := tx.exec(`UPDATE sync_channels SET last_error_at = $1, last_error = $2 WHERE channel_id = $3`, now, msg, channelID)
	return err
}

// DriftChecked records a drift check of a channel and what it mended.
func (tx *Tx) DriftChecked(channelID int64, mended int) error {
	if _, err := tx.exec(`INSERT INTO sync_channels (channel_id, merchant_id) VALUES ($1, $2) ON CONFLICT (channel_id) DO NOTHING`,
		channelID, tx.M); err != nil {
		return err
	}
	_, err := tx.exec(`UPDATE sync_channels SET drift_checked_at = $1, drift_mended = drift_mended + $2 WHERE channel_id = $3`,
		micros(tx.Now), mended, channelID)
	return err
}

// SyncState is what the synchronisation knows of a channel.
type SyncState struct {
	LastSuccess, LastErrorAt *time.Time
	LastError                string
	DriftCheckedAt           *time.Time
	DriftMended              int
	Pending, Failing         int // pushes waiting, and those that failed at least once
	OldestPending            *time.Time
}

// SyncStateOf reads a channel's synchronisation state.
func (tx *Tx) SyncStateOf(channelID int64) (SyncState, error) {
	var s SyncState
	var ok, errAt sql.NullInt64
	var drift int64
	err := tx.row(`SELECT last_success_at, last_error_at, last_error, drift_checked_at, drift_mended FROM sync_channels WHERE channel_id = $1 AND merchant_id = $2`,
		channelID, tx.M).Scan(&ok, &errAt, &s.LastError, &drift, &s.DriftMended)
	if err != nil && !isNoRows(err) {
		return s, err
	}
	s.LastSuccess, s.LastErrorAt = timePtr(ok), timePtr(errAt)
	if drift > 0 {
		t := fromMicros(drift)
		s.DriftCheckedAt = &t
	}
	var oldest, failing sql.NullInt64
	err = tx.row(`SELECT COUNT(*), SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), MIN(first_at) FROM sync_pending WHERE channel_id = $1 AND NOT done`,
		channelID).Scan(&s.Pending, &failing, &oldest)
	if err != nil {
		return s, err
	}
	s.Failing, s.OldestPending = int(failing.Int64), timePtr(oldest)
	return s, nil
}

// Publication is a listing's last publication.
type Publication struct {
	ListingID  int64
	ExternalID string
	PushRef    string
	SKU        string
	Quantity   int
	PushedAt   time.Time
	Confirmed  bool
	Error      string
}

// publicationsQuery reads the publications of a channel from the pending
// rows that hold them: a publication is always one the channel confirmed.
const (
	publicationsQuery = publicationsFrom + `
	WHERE l.channel_id = $1 AND l.merchant_id = $2 AND pen.published IS NOT NULL`
	publicationsFrom = `SELECT pen.listing_id, l.external_id, l.push_ref, COALESCE(p.sku, ''), pen.published, pen.pushed_at, TRUE, ''
	FROM listings l JOIN sync_pending pen ON pen.listing_id = l.id LEFT JOIN products p ON p.id = l.product_id`
)

// Publications lists a channel's publications.
func (tx *Tx) Publications(channelID int64) ([]Publication, error) {
	return tx.scanPublications(nil, publicationsQuery+` ORDER BY l.external_id`, channelID, tx.M)
}

// PublicationsOf lists a channel's publications of the given listings: a
// part of the channel, read again without reading it all.
func (tx *Tx) PublicationsOf(channelID int64, listingIDs []int64) ([]Publication, error) {
	var out []Publication
	for _, part := range chunks(listingIDs) {
		q, args := publicationsOf(tx.d, tx.M, channelID, part)
		var err error
		if out, err = tx.scanPublications(out, q, args...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// publicationsOf is the query of PublicationsOf for one part of the ids.
// The channel is checked on each listing found by id (+: no index), not
// searched by: SQLite would otherwise walk every listing of the channel
// for each part, 100,000 rows to find 250, and a drift check reads a
// large channel's publications part by part in write transactions.
func publicationsOf(d dialect, merchant, channelID int64, part []int64) (string, []any) {
	in, args := inList(d, 3, part)
	q := publicationsFrom + `
	WHERE l.id ` + in + ` AND +l.channel_id = $1 AND l.merchant_id = $2 AND pen.published IS NOT NULL`
	return q, append([]any{channelID, merchant}, args...)
}

func (tx *Tx) scanPublications(out []Publication, q string, args ...any) ([]Publication, error) {
	rows, err := tx.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p Publication
		var at int64
		if err := rows.Scan(&p.ListingID, &p.ExternalID, &p.PushRef, &p.SKU, &p.Quantity, &at, &p.Confirmed, &p.Error); err != nil {
			return nil, err
		}
		p.PushedAt = fromMicros(at)
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetPushRef records what a channel needs to push a listing's quantity.
func (tx *Tx) SetPushRef(channelID int64, externalID, ref string) error {
	_, err := tx.exec(`UPDATE listings SET push_ref = $1 WHERE channel_id = $2 AND external_id = $3 AND merchant_id = $4`,
		ref, channelID, externalID, tx.M)
	return err
}

// ReceiveWebhook records a webhook's id; false if it was received before.
func (tx *Tx) ReceiveWebhook(channelID int64, id string) (bool, error) {
	res, err := tx.exec(`INSERT INTO webhook_receipts (channel_id, webhook_id, received_at) VALUES ($1, $2, $3)
		ON CONFLICT (channel_id, webhook_id) DO NOTHING`, channelID, id, micros(tx.Now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ChannelsByCode finds, across merchants, the channels with a code and a
// platform: webhooks name only the channel, and the signature tells whose.
func (db *DB) ChannelsByCode(ctx context.Context, code string, platform string) ([]ChannelOwner, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT merchant_id, id, settings FROM channels WHERE code = $1 AND platform = $2`, code, platform)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ChannelOwner
	for rows.Next() {
		var c ChannelOwner
		if err := rows.Scan(&c.Merchant, &c.Channel, &c.Settings); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ChannelOwner is a channel with its merchant and raw settings.
type ChannelOwner struct {
	Merchant, Channel int64
	Settings          string
}

// PushChannels lists the merchant's channels that allot pushes to: of
// Channels, which the transaction reads once (a group of orders and the
// plan of its pushes both want them).
func (tx *Tx) PushChannels() ([]ChannelRow, error) {
	all, err := tx.Channels()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(c ChannelRow) bool { return !Pushed(c.Platform) }), nil
}

// Pushed is whether allot pushes quantities to a channel of platform p.
func Pushed(p allot.Platform) bool { return slices.Contains(pushedPlatforms, p) }

// MerchantsWithPushChannels lists the merchants that have a channel allot
// pushes to.
func (db *DB) MerchantsWithPushChannels(ctx context.Context) ([]int64, error) {
	return scanIDs(db.read.QueryContext(ctx, `SELECT DISTINCT merchant_id FROM channels WHERE platform IN `+pushPlatforms))
}

// DriftMended counts quantities mended on a channel outside a drift check.
func (tx *Tx) DriftMended(channelID int64, n int) error {
	_, err := tx.exec(`UPDATE sync_channels SET drift_mended = drift_mended + $1 WHERE channel_id = $2`, n, channelID)
	return err
}

// ChannelsOfPlatform lists, across merchants, the channels of a platform
// with their settings: the file channel's poller reads their folders.
func (db *DB) ChannelsOfPlatform(ctx context.Context, platform string) ([]ChannelOwner, []string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT merchant_id, id, settings, code FROM channels WHERE platform = $1 ORDER BY id`, platform)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []ChannelOwner
	var codes []string
	for rows.Next() {
		var c ChannelOwner
		var code string
		if err := rows.Scan(&c.Merchant, &c.Channel, &c.Settings, &code); err != nil {
			return nil, nil, err
		}
		out = append(out, c)
		codes = append(codes, code)
	}
	return out, codes, rows.Err()
}

// PendingSet is a quantity to push for a listing, due at Due.
type PendingSet struct {
	Listing  PushListing
	Quantity int
	Due      time.Time
}

// SetPendingMany is SetPending for many listings, many rows a statement.
// A listing must appear once. A listing's first quantity is its version 1;
// each next one updates its row (done or waiting) under the row's lock,
// and so gets a version above every one before it.
func (tx *Tx) SetPendingMany(ps []PendingSet, first time.Time) error {
	rows := make([][]any, len(ps))
	for i, p := range ps {
		rows[i] = []any{p.Listing.ListingID, p.Listing.ChannelID, tx.M, p.Quantity, 1, micros(p.Due), micros(first)}
	}
	return tx.insertRows(`INSERT INTO sync_pending (listing_id, channel_id, merchant_id, quantity, version, due_at, first_at) VALUES `, rows,
		` ON CONFLICT (listing_id) DO UPDATE SET quantity = excluded.quantity, version = sync_pending.version + 1, attempts = 0,
		due_at = CASE WHEN NOT sync_pending.done AND sync_pending.due_at < excluded.due_at THEN sync_pending.due_at ELSE excluded.due_at END,
		first_at = CASE WHEN sync_pending.done THEN excluded.first_at ELSE sync_pending.first_at END,
		last_error = CASE WHEN sync_pending.done THEN '' ELSE sync_pending.last_error END,
		done = FALSE`)
}

// ConfirmMany is Confirm, with outcome "confirmed", for many pushes the
// channel applied: a few statements for a whole batch.
func (tx *Tx) ConfirmMany(ps []Push) error { return tx.confirm(ps, "confirmed", "") }

// confirm records that the channel shows each push's quantity, and
// forgets each pending push that no newer value replaced; the log entries
// carry outcome and detail.
func (tx *Tx) confirm(ps []Push, outcome, detail string) error {
	if len(ps) == 0 {
		return nil
	}
	now := micros(tx.Now)
	logs := make([][]any, len(ps))
	for i, p := range ps {
		logs[i] = []any{tx.M, p.ChannelID, p.ListingID, p.Quantity, now, outcome, detail}
	}
	if err := tx.insertRows(`INSERT INTO publication_log (merchant_id, channel_id, listing_id, quantity, at, outcome, detail) VALUES `, logs); err != nil {
		return err
	}
	// Record each publication on its listing's pending row, and forget
	// the push unless a newer value replaced it. Last: on PostgreSQL it
	// locks pending rows that orders queueing pushes wait for, until the
	// commit.
	for part := range slices.Chunk(ps, chunk) {
		rows := make([]pushedRow, len(part))
		for i, p := range part {
			// A push of no pending row (Version -1, as a drift check's
			// has) makes one at version 0: the next quantity queued is 1.
			rows[i] = pushedRow{listing: p.ListingID, channel: p.ChannelID, version: max(p.Version, 0), quantity: int64(p.Quantity)}
		}
		c, err := tx.conn()
		if err != nil {
			return err
		}
		if err := tx.d.recordPushed(tx.ctx, c, tx.M, now, rows); err != nil {
			return err
		}
	}
	return nil
}

// pushedRow is a push the channel confirmed: its listing and channel, the
// version of the pending row it was read from, and the quantity the
// channel shows.
type pushedRow struct{ listing, channel, version, quantity int64 }

// Holding is the listings whose channel and SKU the snapshot holds: a
// listing or a channel newer than the snapshot is planned by its own
// marks. When it holds them all, as it mostly does, it is listings
// itself, not a copy.
func (s *Snapshot) Holding(listings []PushListing) []PushListing {
	holds := func(l *PushListing) bool {
		_, ok := s.SKUs[l.SKU]
		return ok && s.Channels[l.Channel] != nil
	}
	i := 0
	for i < len(listings) && holds(&listings[i]) {
		i++
	}
	if i == len(listings) {
		return listings
	}
	out := make([]PushListing, i, len(listings))
	copy(out, listings[:i])
	for j := i + 1; j < len(listings); j++ {
		if holds(&listings[j]) {
			out = append(out, listings[j])
		}
	}
	return out
}

// PlanPushes records, for each listing, the push its quantity now calls
// for, from snap (which must hold every listing's SKU): none if the channel
// shows it or waits to show it already, or a push due now for a decrease
// and after settle for an increase. With force, a push due now for every
// listing, whatever was published. first is when the change was made.
func (tx *Tx) PlanPushes(snap *Snapshot, listings []PushListing, first time.Time, settle time.Duration, force bool) error {
	return tx.QueuePushes(PushesToQueue(snap, listings, tx.Now, settle, force), first)
}

// PushesToQueue is what PlanPushes records, computed at now without
// writing it.
func PushesToQueue(snap *Snapshot, listings []PushListing, now time.Time, settle time.Duration, force bool) []PendingSet {
	sets := make([]PendingSet, 0, len(listings))
	for _, l := range listings {
		q := snap.Published(l.Channel, l.SKU)
		shown := l.Published != nil && l.Confirmed && *l.Published == q
		switch {
		case force:
		case l.Pending != nil && *l.Pending == q:
			continue // already waiting
		case l.Pending == nil && shown:
			continue // the channel shows it
		}
		// A value back at the publication while another waits is pushed
		// all the same, not dropped: the waiting one may have reached the
		// channel already (a push under way, an answer lost, a process
		// killed before it recorded the outcome).
		due := now
		if l.Published != nil && q > *l.Published && !force {
			due = due.Add(settle)
		}
		sets = append(sets, PendingSet{Listing: l, Quantity: q, Due: due})
	}
	return sets
}

// QueuePushes records pushes to make (see SetPendingMany) and wakes the
// synchronisation once they commit.
func (tx *Tx) QueuePushes(sets []PendingSet, first time.Time) error {
	if len(sets) > 0 {
		tx.marked = true // pushes to make: wake the synchronisation
	}
	return tx.SetPendingMany(sets, first)
}

// AnyPending is whether a push waits, of any merchant. It stops at the
// first: a count of 200,000 waiting pushes took 80 ms on PostgreSQL.
func (db *DB) AnyPending(ctx context.Context) (bool, error) {
	var waiting bool
	err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sync_pending WHERE NOT done)`).Scan(&waiting)
	return waiting, err
}

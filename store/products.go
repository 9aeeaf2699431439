package store

import (
	"database/sql"
	"maps"
	"slices"

	"github.com/allot/allot"
)

// ProductRef is how the store knows a product or a bundle.
type ProductRef struct {
	ID     int64
	SKU    string
	Bundle bool
}

// chunk is how many values one list of ids or keys holds: one array on
// PostgreSQL, one JSON array (ids) or a parameter a key on SQLite, well
// below its limit of 32,766 parameters.
const chunk = 5000

func chunks[T any](all []T) [][]T {
	var out [][]T
	for len(all) > chunk {
		out = append(out, all[:chunk])
		all = all[chunk:]
	}
	if len(all) > 0 {
		out = append(out, all)
	}
	return out
}

// ProductRefs looks up products and bundles by SKU; unknown SKUs are absent
// from the map.
func (tx *Tx) ProductRefs(skus []string) (map[string]ProductRef, error) {
	skus = slices.Clone(skus)
	slices.Sort(skus)
	skus = slices.Compact(skus)
	if d := tx.defs; d != nil {
		found, missing := d.keptRefs(skus)
		if len(missing) == 0 {
			return found, nil
		}
		read, err := tx.readProductRefs(missing)
		if err != nil {
			return nil, err
		}
		d.keepRefs(read)
		maps.Copy(found, read)
		return found, nil
	}
	return tx.readProductRefs(skus)
}

// readProductRefs is ProductRefs of distinct, sorted SKUs, read.
func (tx *Tx) readProductRefs(skus []string) (map[string]ProductRef, error) {
	out := make(map[string]ProductRef, len(skus))
	parts := chunks(skus)
	lookup := func(part []string) (*sql.Rows, error) {
		in, args := inList(tx.d, 2, part)
		return tx.query(`SELECT id, sku, is_bundle FROM products WHERE merchant_id = $1 AND sku `+in, append([]any{tx.M}, args...)...)
	}
	whole := false
	if tx.d.name() == "postgres" && len(skus) > bulkRows {
		// A whole catalogue's SKUs (a stock report): one hash join, which
		// the planner, taking the array for ten keys, would not choose
		// (100,000 SKUs: 0.1 s, where 100,000 index probes take 0.4–0.6).
		whole = true
		parts = [][]string{skus}
		lookup = func(part []string) (*sql.Rows, error) {
			return tx.query(`SELECT p.id, p.sku, p.is_bundle FROM products p JOIN unnest($2::text[]) k(sku) ON p.sku = k.sku
				WHERE p.merchant_id = $1`, tx.M, part)
		}
	} else if tx.d.name() == "postgres" {
		// One probe of the (merchant_id, sku) index a SKU, whatever the
		// statistics say: with an IN list, PostgreSQL's planner, before it
		// has analysed a freshly filled products table, scans it whole.
		parts = [][]string{skus}
		lookup = func(part []string) (*sql.Rows, error) {
			return tx.query(`SELECT p.id, p.sku, p.is_bundle FROM unnest($2::text[]) k(sku)
				CROSS JOIN LATERAL (SELECT id, sku, is_bundle FROM products WHERE merchant_id = $1 AND sku = k.sku LIMIT 1) p`, tx.M, part)
		}
	}
	read := func() error {
		for _, part := range parts {
			rows, err := lookup(part)
			if err != nil {
				return err
			}
			for rows.Next() {
				var r ProductRef
				if err := rows.Scan(&r.ID, &r.SKU, &r.Bundle); err != nil {
					rows.Close()
					return err
				}
				out[r.SKU] = r
			}
			if err := closeRows(rows); err != nil {
				return err
			}
		}
		return nil
	}
	if whole {
		return out, tx.without(nestedLoops, read)
	}
	return out, read()
}

// ProductRef looks up one product or bundle; a NotFound error if unknown.
func (tx *Tx) ProductRef(sku string) (ProductRef, error) {
	r := ProductRef{SKU: sku}
	err := tx.row(`SELECT id, is_bundle FROM products WHERE merchant_id = $1 AND sku = $2`, tx.M, sku).Scan(&r.ID, &r.Bundle)
	if isNoRows(err) {
		return r, notFound("product", sku)
	}
	return r, err
}

// PutProduct creates or updates a product or, with components (already
// checked to be products of this merchant), a bundle. A product cannot
// become a bundle nor the reverse: Conflict.
func (tx *Tx) PutProduct(p allot.Product, components []ProductRef) (ProductRef, bool, error) {
	now := micros(tx.Now)
	bundle := len(p.Components) > 0
	ref := ProductRef{SKU: p.SKU, Bundle: bundle}
	var wasBundle bool
	err := tx.row(`SELECT id, is_bundle FROM products WHERE merchant_id = $1 AND sku = $2`, tx.M, p.SKU).Scan(&ref.ID, &wasBundle)
	created := isNoRows(err)
	switch {
	case created:
		err = tx.row(`INSERT INTO products (merchant_id, sku, name, barcode, is_bundle, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`, tx.M, p.SKU, p.Name, p.Barcode, bundle, now).Scan(&ref.ID)
		if err != nil {
			return ref, false, err
		}
	case err != nil:
		return ref, false, err
	case wasBundle != bundle:
		kind := map[bool]string{true: "a bundle", false: "a product"}
		return ref, false, allot.Errorf(allot.Conflict, "%q is %s; it cannot become %s", p.SKU, kind[wasBundle], kind[bundle])
	default:
		if _, err := tx.exec(`UPDATE products SET name = $1, barcode = $2, updated_at = $3 WHERE id = $4`,
			p.Name, p.Barcode, now, ref.ID); err != nil {
			return ref, false, err
		}
	}
	if bundle {
		if _, err := tx.exec(`DELETE FROM bundle_components WHERE bundle_id = $1`, ref.ID); err != nil {
			return ref, false, err
		}
		for i, c := range p.Components {
			if _, err := tx.exec(`INSERT INTO bundle_components (bundle_id, component_id, quantity, position) VALUES ($1, $2, $3, $4)`,
				ref.ID, components[i].ID, c.Quantity, i); err != nil {
				return ref, false, err
			}
		}
	}
	return ref, created, nil
}

// Product reads one product or bundle.
func (tx *Tx) Product(sku string) (allot.Product, error) {
	ps, err := tx.products(`AND p.sku = $2`, []any{sku}, 1)
	if err != nil {
		return allot.Product{}, err
	}
	if len(ps) == 0 {
		return allot.Product{}, notFound("product", sku)
	}
	return ps[0], nil
}

// Products lists products and bundles by SKU, after the given SKU, at most
// limit of them (0: all).
func (tx *Tx) Products(after string, limit int) ([]allot.Product, error) {
	return tx.products(`AND p.sku > $2`, []any{after}, limit)
}

func (tx *Tx) products(where string, args []any, limit int) ([]allot.Product, error) {
	q := `SELECT p.id, p.sku, p.name, p.barcode, p.is_bundle FROM products p WHERE p.merchant_id = $1 ` + where + ` ORDER BY p.sku`
	if limit > 0 {
		q += ` LIMIT ` + itoa(limit)
	}
	rows, err := tx.query(q, append([]any{tx.M}, args...)...)
	if err != nil {
		return nil, err
	}
	var out []allot.Product
	var bundles []int64
	index := map[int64]int{}
	for rows.Next() {
		var p allot.Product
		var id int64
		var bundle bool
		if err := rows.Scan(&id, &p.SKU, &p.Name, &p.Barcode, &bundle); err != nil {
			rows.Close()
			return nil, err
		}
		if bundle {
			bundles = append(bundles, id)
			index[id] = len(out)
		}
		out = append(out, p)
	}
	if err := closeRows(rows); err != nil {
		return nil, err
	}
	for _, part := range chunks(bundles) {
		in, args := inList(tx.d, 1, part)
		rows, err := tx.query(`SELECT b.bundle_id, p.sku, b.quantity FROM bundle_components b JOIN products p ON p.id = b.component_id
			WHERE b.bundle_id `+in+` ORDER BY b.bundle_id, b.position`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var c allot.Component
			if err := rows.Scan(&id, &c.SKU, &c.Quantity); err != nil {
				rows.Close()
				return nil, err
			}
			out[index[id]].Components = append(out[index[id]].Components, c)
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Expansion returns, for each bundle among ids, its components as (product
// id, quantity); products expand to themselves with quantity 1.
func (tx *Tx) Expansion(refs []ProductRef) (map[int64][]Part, error) {
	out := make(map[int64][]Part, len(refs))
	var bundles []int64
	for _, r := range refs {
		if r.Bundle {
			bundles = append(bundles, r.ID)
		} else {
			out[r.ID] = []Part{{ProductID: r.ID, SKU: r.SKU, PerLine: 1}}
		}
	}
	for _, part := range chunks(bundles) {
		in, args := inList(tx.d, 1, part)
		rows, err := tx.query(`SELECT b.bundle_id, b.component_id, p.sku, b.quantity FROM bundle_components b
			JOIN products p ON p.id = b.component_id WHERE b.bundle_id `+in+` ORDER BY b.bundle_id, b.position`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var p Part
			if err := rows.Scan(&id, &p.ProductID, &p.SKU, &p.PerLine); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = append(out[id], p)
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Part is one product an order line takes: PerLine units for each unit of
// the line.
type Part struct {
	ProductID int64
	SKU       string
	PerLine   int
}

// BundlesOf returns the bundles that contain any of the products.
func (tx *Tx) BundlesOf(ids []int64) ([]int64, error) {
	if tx.defs != nil && len(ids) <= maxScoped {
		return tx.keptBundlesOf(ids)
	}
	var out []int64
	for _, part := range chunks(ids) {
		in, args := inList(tx.d, 1, part)
		got, err := scanIDs(tx.query(`SELECT DISTINCT bundle_id FROM bundle_components WHERE component_id `+in, args...))
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// WithBundles is the products and the bundles that contain any of them,
// ascending, once each.
func (tx *Tx) WithBundles(ids []int64) ([]int64, error) {
	bundles, err := tx.BundlesOf(ids)
	if err != nil {
		return nil, err
	}
	all := append(slices.Clone(ids), bundles...)
	slices.Sort(all)
	return slices.Compact(all), nil
}

func scanIDs(rows *sql.Rows, err error) ([]int64, error) { return scanColumn[int64](rows, err) }

// scanColumn reads the one column of rows (as a query returns them).
func scanColumn[T any](rows *sql.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ProductsByBarcode maps barcodes to the products and bundles that carry
// them; a barcode carried by several is left out, since it cannot decide.
func (tx *Tx) ProductsByBarcode() (map[string]ProductRef, error) {
	rows, err := tx.query(`SELECT id, sku, is_bundle, barcode FROM products WHERE merchant_id = $1 AND barcode <> ''`, tx.M)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]ProductRef{}
	seen := map[string]int{}
	for rows.Next() {
		var r ProductRef
		var barcode string
		if err := rows.Scan(&r.ID, &r.SKU, &r.Bundle, &barcode); err != nil {
			return nil, err
		}
		out[barcode] = r
		seen[barcode]++
	}
	for b, n := range seen {
		if n > 1 {
			delete(out, b)
		}
	}
	return out, rows.Err()
}

// InsertProducts creates new products (not bundles), many rows a statement.
func (tx *Tx) InsertProducts(ps []allot.Product) error {
	now := micros(tx.Now)
	rows := make([][]any, len(ps))
	for i, p := range ps {
		rows[i] = []any{tx.M, p.SKU, p.Name, p.Barcode, false, now, now}
	}
	return tx.insertRows(`INSERT INTO products (merchant_id, sku, name, barcode, is_bundle, created_at, updated_at) VALUES `, rows)
}

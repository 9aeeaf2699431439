package csvio_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/csvio"
	"github.com/allot/allot/service"
)

// Any file of any kind, imported into a real database, is applied or
// refused with an error that names the line; never an internal error.
func FuzzImport(f *testing.F) {
	ctx := context.Background()
	type target struct {
		svc *service.Service
		who service.Actor
	}
	var targets []target
	for _, engine := range allottest.Engines() {
		svc := service.New(allottest.OpenDB(f, engine))
		m, _, err := svc.CreateMerchant(ctx, "default", "Default", allottest.Token)
		if err != nil {
			f.Fatal(err)
		}
		who := service.Actor{Merchant: m, Name: "fuzz"}
		if _, err := svc.PutWarehouse(ctx, who, allot.Warehouse{Code: "w1"}); err != nil {
			f.Fatal(err)
		}
		for _, c := range []string{"b2c", "b2b"} {
			if _, _, err := svc.PutChannel(ctx, who, allot.Channel{Code: c, Platform: allot.API}); err != nil {
				f.Fatal(err)
			}
		}
		for _, file := range []struct{ kind, data string }{
			{"products", "sku,name,components\ntee,T-shirt,\ncap,Cap,\nkit,Kit,tee:1;cap:2\n"},
			{"stock", "warehouse,sku,in_warehouse\nw1,tee,100\nw1,cap,50\n"},
			{"listings", "channel,external_id,sku\nb2c,L-tee,tee\nb2c,L-kit,kit\n"},
		} {
			if _, err := csvio.Import(ctx, svc, who, file.kind, bytes.NewReader([]byte(file.data))); err != nil {
				f.Fatal(err)
			}
		}
		targets = append(targets, target{svc, who})
	}
	f.Fuzz(func(t *testing.T, kindName string, data []byte) {
		kind := kindOf(kindName)
		for _, tg := range targets {
			if _, err := csvio.Import(ctx, tg.svc, tg.who, kind, bytes.NewReader(data)); err != nil {
				checkFileError(t, kind, data, err)
			}
		}
	})
}

// kindOf picks a file kind as FuzzRead does.
func kindOf(name string) string {
	if slices.Contains(csvio.Kinds, name) {
		return name
	}
	n := 0
	for _, b := range []byte(name) {
		n += int(b)
	}
	return csvio.Kinds[n%len(csvio.Kinds)]
}

var fileField = regexp.MustCompile(`^(file|line [0-9]+(\..+)?)$`)

// checkFileError fails t unless err is an *allot.Error that is not
// internal, with a message, naming a line or the file when the file is
// invalid or too large.
func checkFileError(t *testing.T, kind string, data []byte, err error) {
	t.Helper()
	var e *allot.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s %q: %T %v is not an *allot.Error: it would answer 500", kind, data, err, err)
	}
	if e.Code == allot.Internal || e.Message == "" {
		t.Fatalf("%s %q: %+v", kind, data, e)
	}
	if (e.Code == allot.Invalid || e.Code == "too_large") && !fileField.MatchString(e.Field) {
		t.Fatalf("%s %q: the error names %q, not a line or the file: %v", kind, data, e.Field, e)
	}
}

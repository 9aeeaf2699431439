package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/allot/allot/app"
	"github.com/allot/allot/demo"
	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
)

func serverFlags(name string, env *Env) (*flag.FlagSet, *app.Config) {
	fs := flags(name, env)
	c := &app.Config{}
	fs.StringVar(&c.Addr, "addr", "", "address to listen on (ALLOT_ADDR, default 127.0.0.1:8080)")
	fs.StringVar(&c.DB, "db", "", "SQLite file or postgres:// URL (ALLOT_DB, default ./allot.db)")
	return fs, c
}

func serve(env *Env) error {
	fs, c := serverFlags("serve", env)
	if pos, err := parse(fs, env.Args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	c.Out = env.Stdout
	srv, err := app.Start(env.Context, *c)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "allot serving on %s (database: %s)\n", srv.URL(), srv.DB.Engine())
	<-env.Context.Done()
	fmt.Fprintln(env.Stdout, "allot: stopping; requests in flight finish first")
	return srv.Close()
}

func migrate(env *Env) error {
	fs, c := serverFlags("migrate", env)
	if _, err := parse(fs, env.Args); err != nil {
		return err
	}
	cfg := app.ConfigFromEnv(*c)
	db, err := store.Open(env.Context, cfg.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(env.Context); err != nil {
		return err
	}
	v, err := db.Version(env.Context)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s database %s is at migration %d\n", db.Engine(), cfg.DB, v)
	return nil
}

func openService(env *Env, dbFlag string) (*service.Service, func(), error) {
	cfg := app.ConfigFromEnv(app.Config{DB: dbFlag})
	db, err := store.Open(env.Context, cfg.DB)
	if err != nil {
		return nil, nil, err
	}
	if err := db.Migrate(env.Context); err != nil {
		db.Close()
		return nil, nil, err
	}
	return service.New(db), func() { db.Close() }, nil
}

func merchant(env *Env) error {
	fs := flags("merchant", env)
	name := fs.String("name", "", "the merchant's name")
	dbFlag := fs.String("db", "", "SQLite file or postgres:// URL (ALLOT_DB)")
	pos, err := parse(fs, env.Args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "add" {
		return usagef("say: merchant add CODE")
	}
	svc, done, err := openService(env, *dbFlag)
	if err != nil {
		return err
	}
	defer done()
	_, tok, err := svc.CreateMerchant(env.Context, pos[1], *name, "")
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Created merchant %q. Its API token, shown this once:\n\n    %s\n", pos[1], tok)
	return nil
}

func token(env *Env) error {
	fs := flags("token", env)
	dbFlag := fs.String("db", "", "SQLite file or postgres:// URL (ALLOT_DB)")
	pos, err := parse(fs, env.Args)
	if err != nil {
		return err
	}
	if len(pos) != 3 || pos[0] != "add" {
		return usagef("say: token add MERCHANT NAME")
	}
	svc, done, err := openService(env, *dbFlag)
	if err != nil {
		return err
	}
	defer done()
	tok, err := svc.AddToken(env.Context, pos[1], pos[2])
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Token %q for merchant %q, shown this once:\n\n    %s\n", pos[2], pos[1], tok)
	return nil
}

func runDemo(env *Env) error {
	fs := flags("demo", env)
	addr := fs.String("addr", envOr("ALLOT_ADDR", "127.0.0.1:8080"), "address to listen on")
	db := fs.String("db", "allot-demo.db", "SQLite file to create afresh (it is deleted first), or a postgres:// URL (the demo then runs in a schema allot_demo, emptied first)")
	if _, err := parse(fs, env.Args); err != nil {
		return err
	}
	if strings.HasPrefix(*db, "postgres://") || strings.HasPrefix(*db, "postgresql://") {
		dsn, err := store.FreshSchema(env.Context, *db, "allot_demo")
		if err != nil {
			return err
		}
		*db = dsn
	} else {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(*db + suffix); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	d, err := demo.Start(env.Context, demo.Config{Addr: *addr, DB: *db, Out: env.Stdout})
	if err != nil {
		return err
	}
	<-env.Context.Done()
	fmt.Fprintln(env.Stdout, "allot demo: stopping")
	return d.Close()
}
